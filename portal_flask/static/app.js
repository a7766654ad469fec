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
})();
