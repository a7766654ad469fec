"""Server-side sessions: one random token per sign-in, kept hashed, revoked for good."""

from __future__ import annotations

import hashlib

from portal_flask.extensions import db
from portal_flask.models import AccountSession
from tests.portal_flask.helpers import (
    REMEMBER_COOKIE,
    SESSION_COOKIE,
    captured_cookies,
    client_with,
    csrf_token,
    pages_opened,
    post_form,
    sign_in,
)

DAY = 86400


def sign_in_remembered(client, account):
    return sign_in(client, account, remember=True)


def session_rows(portal, account_id: int) -> list[AccountSession]:
    with portal.app.app_context():
        return db.session.scalars(
            db.select(AccountSession).filter_by(account_id=account_id).order_by(AccountSession.id)
        ).all()


def test_each_sign_in_gets_its_own_token_and_the_database_keeps_only_its_digest(
    portal, make_account, sign_in
):
    admin = make_account()
    tokens = []
    for _ in range(2):
        client = portal.client()
        sign_in_remembered(client, admin)
        tokens.append(client.get_cookie(REMEMBER_COOKIE).value.split("|")[0])
    assert tokens[0] != tokens[1]
    rows = session_rows(portal, admin.id)
    assert len(rows) == 2
    for token, row in zip(tokens, rows, strict=True):
        assert len(token) >= 43  # 256 random bits
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in row.token_hash


def test_cookies_captured_before_sign_out_open_no_page_in_any_browser(portal, client, make_account):
    admin = make_account()
    sign_in_remembered(client, admin)
    captured = captured_cookies(client)
    assert set(captured) == {SESSION_COOKIE, REMEMBER_COOKIE}
    assert pages_opened(portal, client_with(portal, captured))  # the copy works while signed in
    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/tasks/")})
    for cookies in (captured, {REMEMBER_COOKIE: captured[REMEMBER_COOKIE]}):
        replayed = client_with(portal, cookies)
        assert pages_opened(portal, replayed) == []
        assert replayed.get("/tasks/").headers["Location"].startswith("/auth/sign-in")


def test_keep_me_signed_in_lasts_thirty_days_and_no_longer(portal, make_account):
    admin = make_account()
    client = portal.client()
    sign_in_remembered(client, admin)
    remember = {REMEMBER_COOKIE: client.get_cookie(REMEMBER_COOKIE).value}
    (row,) = session_rows(portal, admin.id)
    assert (row.expires_at - row.created_at).total_seconds() == 30 * DAY
    portal.clock.advance(29 * DAY)
    assert client_with(portal, remember).get("/tasks/").status_code == 200
    portal.clock.advance(DAY + 1)
    assert client_with(portal, remember).get("/tasks/").status_code == 302


def test_a_session_without_keep_me_signed_in_ends_when_idle_or_after_its_hours(
    portal, make_account, sign_in
):
    admin = make_account()
    idle = portal.client()
    sign_in(idle, admin)
    portal.clock.advance(portal.config.idle_minutes * 60 + 1)
    assert idle.get("/tasks/").status_code == 302

    busy = portal.client()
    sign_in(busy, admin)
    for _ in range(portal.config.session_hours * 4 - 1):  # a request every quarter hour
        portal.clock.advance(15 * 60)
        assert busy.get("/tasks/").status_code == 200
    portal.clock.advance(15 * 60)
    assert busy.get("/tasks/").status_code == 302


def test_a_user_sees_their_sessions_and_signs_one_out(portal, make_account, sign_in):
    user = make_account("site_user", "site-a")
    here, there = portal.client(), portal.client()
    sign_in(here, user)
    sign_in(there, user)
    page = here.get("/auth/account").get_data(as_text=True)
    assert page.count('id="session-') == 2
    assert "this browser" in page
    other = session_rows(portal, user.id)[1]
    post_form(here, f"/auth/sessions/{other.id}/revoke", {}, token_from="/auth/account")
    assert there.get("/tasks/").status_code == 302
    assert here.get("/tasks/").status_code == 200
    assert here.get("/auth/account").get_data(as_text=True).count('id="session-') == 1


def test_an_administrator_sees_a_users_sessions_and_signs_them_out(portal, make_account, sign_in):
    admin, user = make_account(), make_account("site_user", "site-a")
    admin_client, user_client = portal.client(), portal.client()
    sign_in(admin_client, admin)
    sign_in(user_client, user)
    page = admin_client.get(f"/accounts/{user.id}").get_data(as_text=True)
    assert user.email in page and page.count('id="session-') == 1
    post_form(admin_client, f"/accounts/{user.id}/sessions/revoke", {}, f"/accounts/{user.id}")
    assert user_client.get("/tasks/").status_code == 302
    assert pages_opened(portal, user_client) == []
    assert 'id="session-' not in admin_client.get(f"/accounts/{user.id}").get_data(as_text=True)
