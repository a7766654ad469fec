"""Changing a password, resetting it by a one-time link, and what each does to sessions."""

from __future__ import annotations

import logging
import re

import pytest

from portal_flask.accounts import AccountError, create_account
from portal_flask.extensions import db
from portal_flask.models import PasswordReset
from portal_flask.passwords import account_words, password_problem
from tests.portal_flask.helpers import (
    captured_cookies,
    client_with,
    csrf_token,
    pages_opened,
    post_form,
)

NEW = "a brand new passphrase"
_LINK = re.compile(r"https?://\S+/auth/reset/(\S+)")


def change(client, current: str, new: str, confirm: str | None = None):
    return post_form(
        client,
        "/auth/password",
        {"current_password": current, "new_password": new, "confirm_password": confirm or new},
        token_from="/auth/account",
    )


def test_changing_the_password_signs_out_every_other_session(portal, make_account, sign_in):
    user = make_account("site_user", "site-a")
    here, elsewhere = portal.client(), portal.client()
    sign_in(here, user)
    sign_in(elsewhere, user)
    before = captured_cookies(here)
    response = change(here, user.password, NEW)
    assert response.status_code == 302
    assert "Password changed" in here.get("/auth/account").get_data(as_text=True)
    assert pages_opened(portal, here)  # this browser carries on, in a fresh session
    assert pages_opened(portal, elsewhere) == []
    assert pages_opened(portal, client_with(portal, before)) == []
    assert sign_in(portal.client(), user).status_code == 200  # the old password no longer works
    assert sign_in(portal.client(), user, password=NEW).status_code == 302


def test_a_password_change_needs_the_current_password_and_a_good_new_one(
    portal, client, make_account, sign_in
):
    user = make_account("site_user", "site-a")
    sign_in(client, user)
    cases = [
        (("not my password!", NEW), "not your current password"),
        ((user.password, "short"), "12 to 1024 characters"),
        ((user.password, NEW, NEW + "x"), "two new passwords differ"),
    ]
    for args, message in cases:
        response = change(client, *args)
        assert response.status_code == 200
        assert message in response.get_data(as_text=True)
    assert sign_in(portal.client(), user).status_code == 302  # unchanged


def test_a_long_password_of_any_characters_is_kept_whole(portal, client, make_account, sign_in):
    """No composition rules, no truncation: 128 characters of spaces, accents and emoji."""
    user = make_account("site_user", "site-a")
    sign_in(client, user)
    long_password = ("grüne Äpfel 🍏 " * 10)[:128]
    assert len(long_password) == 128
    assert change(client, user.password, long_password).status_code == 302
    assert sign_in(portal.client(), user, password=long_password).status_code == 302
    assert sign_in(portal.client(), user, password=long_password[:-1]).status_code == 200


def ask_for_reset(portal, email: str, caplog) -> tuple[str, str | None]:
    """The page after asking for a reset link for ``email``, and the link's token from the log."""
    client = portal.client()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="portal_flask.mail"):
        response = post_form(client, "/auth/forgot-password", {"email": email})
        response.close()  # as the server does once the answer is sent: then the link is mailed
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    found = _LINK.search(caplog.text)
    return page.replace(email, "EMAIL"), found.group(1) if found else None


def set_new_password(portal, token: str, password: str = NEW):
    client = portal.client()
    return post_form(
        client,
        f"/auth/reset/{token}",
        {"new_password": password, "confirm_password": password},
        token_from="/auth/forgot-password",
    )


def test_a_reset_link_is_logged_works_once_and_signs_every_session_out(
    portal, make_account, sign_in, caplog
):
    user = make_account("site_user", "site-a")
    signed_in = portal.client()
    sign_in(signed_in, user)
    page, token = ask_for_reset(portal, user.email, caplog)
    assert token, "no reset link in the log"
    assert "works once, for 60 minutes" in page
    response = set_new_password(portal, token)
    assert response.headers["Location"] == "/auth/sign-in"
    assert pages_opened(portal, signed_in) == []
    assert sign_in(portal.client(), user, password=NEW).status_code == 302
    again = portal.client().get(f"/auth/reset/{token}")
    assert again.headers["Location"] == "/auth/forgot-password"
    assert set_new_password(portal, token, "yet another passphrase").status_code == 302
    assert sign_in(portal.client(), user, password="yet another passphrase").status_code == 200


def test_a_reset_link_expires(portal, make_account, sign_in, caplog):
    user = make_account("site_user", "site-a")
    _, token = ask_for_reset(portal, user.email, caplog)
    portal.clock.advance(portal.config.reset_minutes * 60 + 1)
    client = portal.client()
    response = client.get(f"/auth/reset/{token}")
    assert response.headers["Location"] == "/auth/forgot-password"
    assert "expired or has been used" in client.get("/auth/forgot-password").get_data(as_text=True)
    set_new_password(portal, token)
    assert sign_in(portal.client(), user).status_code == 302  # the password is unchanged


def test_asking_for_a_reset_answers_the_same_for_unknown_emails_and_sends_nothing(
    portal, make_account, caplog
):
    user = make_account("site_user", "site-a")
    known_page, known_token = ask_for_reset(portal, user.email, caplog)
    unknown_page, unknown_token = ask_for_reset(portal, "nobody@site-a.example.org", caplog)
    assert known_token and unknown_token is None
    strip = re.compile(r'name="csrf_token"[^>]*>')
    assert strip.sub("", known_page) == strip.sub("", unknown_page)


def test_asking_for_a_reset_is_answered_before_the_address_is_looked_up(
    portal, make_account, caplog
):
    """The answer does the same work for every address, so its timing cannot tell them apart."""
    user = make_account("site_user", "site-a")
    client = portal.client()
    with caplog.at_level(logging.DEBUG):
        response = post_form(client, "/auth/forgot-password", {"email": user.email})
        assert response.status_code == 302
        assert not _LINK.search(caplog.text) and reset_rows(portal) == 0  # nothing yet
        response.close()
    assert _LINK.search(caplog.text) and reset_rows(portal) == 1


def reset_rows(portal) -> int:
    with portal.app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(PasswordReset))


def test_a_wrong_reset_token_is_refused(portal, client):
    response = client.get("/auth/reset/not-a-token")
    assert response.headers["Location"] == "/auth/forgot-password"
    page = client.post(
        "/auth/reset/not-a-token",
        data={
            "csrf_token": csrf_token(client, "/auth/forgot-password"),
            "new_password": NEW,
            "confirm_password": NEW,
        },
    )
    assert page.headers["Location"] == "/auth/forgot-password"


def test_asking_again_and_again_sends_at_most_three_working_links(portal, make_account, caplog):
    user = make_account("site_user", "site-a")
    tokens = [ask_for_reset(portal, user.email, caplog)[1] for _ in range(4)]
    assert all(tokens[:3]) and tokens[3] is None
    portal.clock.advance(portal.config.reset_minutes * 60 + 1)
    assert ask_for_reset(portal, user.email, caplog)[1]


def test_leaked_and_guessable_passwords_are_refused_everywhere_a_password_is_set(
    portal, client, make_account, sign_in, caplog
):
    user = make_account("site_user", "site-a")
    refused = {
        "1qaz2wsx3edc": "leaked password lists",  # 12 characters, in the breach corpus
        "qwerty123456": "leaked password lists",
        "aaaaaaaaaaaaaaaa": "easy to guess",
        user.email: "easy to guess",
    }
    sign_in(client, user)
    for password, message in refused.items():
        response = change(client, user.password, password)
        assert response.status_code == 200 and message in response.get_data(as_text=True)

    _, token = ask_for_reset(portal, user.email, caplog)
    for password, message in refused.items():
        page = set_new_password(portal, token, password).get_data(as_text=True)
        assert message in page, password
    assert set_new_password(portal, token).status_code == 302  # the link still works
    assert sign_in(portal.client(), user, password=NEW).status_code == 302

    new_email = "new.person@site-a.example.org"
    refused[new_email] = refused.pop(user.email)  # the new account's own email
    with portal.app.app_context():
        for password, message in refused.items():
            with pytest.raises(AccountError, match=message):
                create_account(new_email, password, "site_user", "site-a", "alice")


def test_the_strength_meter_says_what_the_form_will(portal, client, make_account, sign_in):
    user = make_account("site_user", "site-a")
    sign_in(client, user)
    token = csrf_token(client, "/auth/account")

    def meter(body):
        return client.post("/auth/password-strength", json=body, headers={"X-CSRFToken": token})

    for password in ("qwerty123456", "aaaaaaaaaaaaaaaa", user.email, "short", NEW):
        answer = meter({"password": password}).get_json()
        assert answer["problem"] == password_problem(password, account_words(user.email))
        assert 0 <= answer["score"] <= 4
    assert meter({"password": NEW}).get_json() == {"score": 4, "problem": None}
    assert meter({"password": 12}).status_code == 400
    assert meter(["not", "an", "object"]).status_code == 400
    no_token = client.post("/auth/password-strength", json={"password": NEW})
    assert no_token.status_code == 400
