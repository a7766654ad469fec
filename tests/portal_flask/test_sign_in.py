"""Sign-in: one hash verification per attempt, the same answers for every wrong guess,
and throttling that a stranger cannot turn against an account's owner."""

from __future__ import annotations

import re

import argon2
import pytest

from portal_flask import create_app
from portal_flask.extensions import db
from portal_flask.models import Account
from tests.portal_flask.helpers import TestAccount, csrf_token

ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"
_FLASH = re.compile(r'class="flash flash-\w+"[^>]*>([^<]*)<')


def client_from(portal, address: str, app=None):
    client = (app or portal.app).test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    client.environ_base["REMOTE_ADDR"] = address
    return client


def attempt(client, email: str, password: str) -> tuple[int, str]:
    """Sign in through the form: the status and the message shown."""
    response = client.post(
        "/auth/sign-in",
        data={"csrf_token": csrf_token(client), "email": email, "password": password},
    )
    return response.status_code, " ".join(_FLASH.findall(response.get_data(as_text=True)))


@pytest.fixture
def verifications(monkeypatch) -> list[str]:
    """Every argon2 verification the portal runs, by the hash it checked against."""
    calls: list[str] = []
    original = argon2.PasswordHasher.verify

    def counting(self, hash, password):
        calls.append(hash)
        return original(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    return calls


def test_every_attempt_runs_exactly_one_hash_verification(portal, make_account, verifications):
    admin = make_account()
    client = client_from(portal, ATTACKER)
    cases = [
        (admin.email, "a wrong password"),
        ("nobody@example.org", "a wrong password"),
        ("nobody@example.org", admin.password),
        (admin.email, admin.password),
    ]
    for email, password in cases:
        verifications.clear()
        attempt(client_from(portal, OWNER), email, password)
        assert len(verifications) == 1, (email, password)
    for _ in range(portal.config.max_failed_sign_ins + 1):  # throttled attempts too
        verifications.clear()
        attempt(client, "nobody@example.org", "guess guess")
        assert len(verifications) == 1
    with portal.app.app_context():
        db.session.get(Account, admin.id).disabled = True
        db.session.commit()
    verifications.clear()
    attempt(client_from(portal, OWNER), admin.email, admin.password)
    assert len(verifications) == 1


def test_a_known_and_an_unknown_email_get_the_same_answers_throughout(portal, make_account):
    admin = make_account()
    answers = {}
    for email in (admin.email, "nobody@site-a.example.org"):
        client = client_from(portal, ATTACKER)
        answers[email] = [
            attempt(client, email, "guess guess guess")
            for _ in range(portal.config.max_failed_sign_ins + 2)
        ]
        portal.clock.advance(portal.config.sign_in_window_seconds + 1)
    known, unknown = answers.values()
    assert known == unknown
    assert "do not match an account" in known[0][1]
    assert "Too many failed sign-ins" in known[-1][1]


def test_a_stranger_guessing_cannot_lock_the_owner_out(portal, make_account):
    user = make_account("site_user", "site-a")
    stranger = client_from(portal, ATTACKER)
    for _ in range(portal.config.max_failed_sign_ins):
        assert "do not match" in attempt(stranger, user.email, "guess guess guess")[1]
    # The stranger's address is refused even with the right password ...
    assert "Too many failed sign-ins" in attempt(stranger, user.email, user.password)[1]
    # ... while the owner, from their own address, signs in at once.
    owner = client_from(portal, OWNER)
    assert attempt(owner, user.email, user.password)[0] == 302
    assert owner.get("/tasks/").status_code == 200
    portal.clock.advance(portal.config.sign_in_window_seconds + 1)
    assert attempt(stranger, user.email, user.password)[0] == 302


def test_one_address_guessing_many_emails_is_refused_for_all_of_them(portal, make_account):
    app = create_app(portal.config.with_(max_failed_sign_ins_per_address=6))
    user = make_account("site_user", "site-a")
    client = client_from(portal, ATTACKER, app)
    for n in range(6):
        assert "do not match" in attempt(client, f"guess{n}@site-a.example.org", "guess!")[1]
    assert "Too many failed sign-ins" in attempt(client, user.email, user.password)[1]
    assert attempt(client_from(portal, OWNER, app), user.email, user.password)[0] == 302


def test_every_portal_process_counts_the_same_failures(portal, make_account):
    """Two apps over one database stand for two portal processes behind the load balancer."""
    user = make_account("site_user", "site-a")
    first, second = portal.app, create_app(portal.config)
    for n in range(portal.config.max_failed_sign_ins):
        app = (first, second)[n % 2]
        attempt(client_from(portal, ATTACKER, app), user.email, "guess guess guess")
    for app in (first, second):
        _, message = attempt(client_from(portal, ATTACKER, app), user.email, user.password)
        assert "Too many failed sign-ins" in message


def test_a_disabled_account_with_the_right_password_is_told_so(portal, make_account):
    user: TestAccount = make_account("site_user", "site-a")
    with portal.app.app_context():
        db.session.get(Account, user.id).disabled = True
        db.session.commit()
    status, message = attempt(client_from(portal, OWNER), user.email, user.password)
    assert status == 200 and "disabled" in message
    _, wrong = attempt(client_from(portal, OWNER), user.email, "a wrong password")
    assert "do not match" in wrong
