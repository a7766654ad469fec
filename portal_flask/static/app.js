// Small behaviours shared by every page. No inline scripts: the CSP allows only this origin.
(function () {
  "use strict";

  // <form data-confirm="Revoke this key?">: ask before submitting.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  // <tbody data-live-url="/x.json" data-live-seconds="3">: every few seconds, fetch
  // {"html": "<tr>…</tr>", "updated": "…"} and replace the rows; the element named by
  // data-live-status shows when the rows were last refreshed.
  function poll(body) {
    var url = body.getAttribute("data-live-url");
    var seconds = parseFloat(body.getAttribute("data-live-seconds") || "3");
    var status = document.getElementById(body.getAttribute("data-live-status") || "");
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (data) {
          if (body.innerHTML !== data.html) { body.innerHTML = data.html; }
          if (status) { status.textContent = "Live · updated " + data.updated; status.classList.remove("stale"); }
        })
        .catch(function () {
          if (status) { status.textContent = "Live updates paused (connection lost)"; status.classList.add("stale"); }
        })
        .finally(function () { window.setTimeout(tick, seconds * 1000); });
    }
    window.setTimeout(tick, seconds * 1000);
  }
  document.querySelectorAll("[data-live-url]").forEach(poll);

  // Every password field gets a Show/Hide button, so a person can check what they typed.
  document.querySelectorAll('input[type="password"]').forEach(function (input) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-link show-password";
    button.textContent = "Show";
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-controls", input.id);
    button.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      button.textContent = show ? "Hide" : "Show";
      button.setAttribute("aria-pressed", String(show));
    });
    input.insertAdjacentElement("afterend", button);
  });

  // <input data-strength-url="/auth/password-strength">: a meter under a new password that
  // shows, as it is typed, what the portal will say of it (zxcvbn's score, leaked or not).
  var STRENGTH = ["Very weak", "Weak", "Fair", "Strong", "Very strong"];
  function strengthMeter(input) {
    var url = input.getAttribute("data-strength-url");
    var token = input.form.querySelector('[name="csrf_token"]').value;
    var meter = document.createElement("meter");
    meter.min = 0; meter.max = 4; meter.low = 2; meter.high = 3; meter.optimum = 4; meter.value = 0;
    meter.id = input.id + "-meter";
    var verdict = document.createElement("p");
    verdict.className = "help strength";
    verdict.id = input.id + "-strength";
    verdict.setAttribute("aria-live", "polite");
    var field = input.closest(".field") || input.parentNode;
    field.appendChild(meter);
    field.appendChild(verdict);
    var timer = null;
    var asked = 0;
    function judge() {
      var sent = ++asked;
      if (!input.value) { meter.value = 0; verdict.textContent = ""; return; }
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token },
        body: JSON.stringify({ password: input.value })
      })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (data) {
          if (sent !== asked) { return; } // the answer for a later value is on its way
          meter.value = data.problem ? Math.min(data.score, 1) : data.score;
          verdict.textContent = data.problem
            ? "Not accepted: " + data.problem + "."
            : "Strength: " + STRENGTH[data.score] + ".";
        })
        .catch(function () {
          if (sent === asked) { verdict.textContent = "Strength unknown (connection lost)."; }
        });
    }
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(judge, 250);
    });
  }
  document.querySelectorAll("input[data-strength-url]").forEach(strengthMeter);
})();
