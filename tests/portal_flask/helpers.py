"""Helpers for portal tests: accounts, signing in, CSRF tokens, a settable clock."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from flask.testing import FlaskClient

PASSWORD = "correct horse battery staple"
"""The password :meth:`Portal.account` gives an account unless told otherwise."""

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TWO_STEP_KEY = re.compile(r'id="two-step-key">([A-Z2-7]+)<')
"""The authenticator key the two-step set-up page shows."""


@dataclass(frozen=True)
class TestAccount:
    """An account the test made, with its password in the clear."""

    __test__ = False

    id: int
    email: str
    password: str
    role: str
    site_id: str | None
    user_name: str | None
    totp_secret: str | None = None
    next_code: Callable[[], str] | None = field(default=None, compare=False, repr=False)
    """A code of the account's authenticator the portal has not accepted yet (with two-step)."""


class Clock:
    """A clock the test moves: ``clock()`` is the time, ``advance(seconds)`` moves it."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    match = _TOKEN.search(html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


def csrf_token(client: FlaskClient, path: str = "/auth/sign-in") -> str:
    """A valid CSRF token for ``client``'s session, read from the form at ``path``.

    For a signed-in client any portal page works (the sign-out form carries one);
    the default, the sign-in page, suits a signed-out client.
    """
    response = client.get(path)
    assert response.status_code == 200, f"GET {path} answered {response.status_code}"
    return csrf_token_in(response.get_data(as_text=True))


def sign_in(
    client: FlaskClient,
    account: TestAccount,
    password: str | None = None,
    *,
    remember: bool = False,
    code: str | None = None,
):
    """Sign ``client`` in as ``account`` through the sign-in form; returns the response.

    An account with two-step sign-in gives its authenticator's next code unless
    ``code`` says what to give.
    """
    data = {
        "csrf_token": csrf_token(client, "/auth/sign-in"),
        "email": account.email,
        "password": account.password if password is None else password,
    }
    if code is None and account.next_code is not None:
        code = account.next_code()
    if code:
        data["code"] = code
    if remember:
        data["remember"] = "y"
    return client.post("/auth/sign-in", data=data)


def set_up_two_step(client: FlaskClient, now: float) -> tuple[str, str]:
    """Set two-step sign-in up on its page as a person would, at time ``now``.

    Returns the key the page showed and the page that confirms it (with the recovery codes).
    """
    import pyotp

    page = client.get("/auth/two-step").get_data(as_text=True)
    key = TWO_STEP_KEY.search(page).group(1)
    done = post_form(client, "/auth/two-step", {"code": pyotp.TOTP(key).at(now)})
    confirmed = done.get_data(as_text=True)
    assert "Two-step sign-in is on" in confirmed, confirmed
    return key, confirmed


def authenticator(app, account_id: int, secret: str, clock: Clock) -> Callable[[], str]:
    """What an authenticator app set up with ``secret`` shows when next asked.

    The portal accepts each code once, and codes of one step either side of now:
    a code for the step after the last one accepted is given, and the test clock
    moves on only when that step is further ahead than the portal looks.
    """
    from portal_flask.auth import two_step
    from portal_flask.extensions import db
    from portal_flask.models import Account

    def next_code() -> str:
        with app.app_context():
            last = db.session.get(Account, account_id).totp_last_step
        step = int(clock() // two_step.STEP_SECONDS)
        target = step if last is None or last < step else last + 1
        if target > step + 1:
            clock.advance((target - 1 - step) * two_step.STEP_SECONDS)
        return two_step.code_at(secret, target)

    return next_code


def post_form(client: FlaskClient, path: str, data: dict, token_from: str | None = None):
    """POST ``data`` to ``path`` with a valid CSRF token (read from ``token_from`` or ``path``)."""
    token = csrf_token(client, token_from or path)
    return client.post(path, data={"csrf_token": token, **data})


SESSION_COOKIE = "__Host-yc_session"
REMEMBER_COOKIE = "__Host-yc_remember"
COOKIES = (SESSION_COOKIE, REMEMBER_COOKIE)
"""The cookies that carry a sign-in to the test portal (on HTTPS: with the ``__Host-`` prefix)."""


def captured_cookies(client: FlaskClient) -> dict[str, str]:
    """The sign-in cookies ``client`` holds, as an attacker who copied them would have them."""
    held = {name: client.get_cookie(name) for name in COOKIES}
    return {name: cookie.value for name, cookie in held.items() if cookie is not None}


def client_with(portal, cookies: dict[str, str]) -> FlaskClient:
    """A fresh client (another browser) holding only ``cookies``."""
    client = portal.client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def pages_opened(portal, client: FlaskClient) -> list[str]:
    """The portal's pages (GET routes without arguments, except the public ones) ``client`` opens.

    A signed-out client is sent to the sign-in page from every one of them.
    """
    public = {"auth.sign_in", "auth.forgot_password", "portal.health"}
    opened = []
    for rule in portal.app.url_map.iter_rules():
        if rule.arguments or "GET" not in rule.methods or rule.endpoint in public:
            continue
        if client.get(rule.rule).status_code == 200:
            opened.append(rule.rule)
    return opened
