"""Two-step sign-in: codes as RFC 6238 computes them, set-up, sign-in, recovery codes,
required of administrators, turned off by another administrator."""

from __future__ import annotations

import base64
import logging
import re

import pyotp

from portal_flask.auth import two_step
from portal_flask.auth.views import BAD_CREDENTIALS
from portal_flask.extensions import db
from portal_flask.models import Account
from tests.portal_flask.helpers import post_form, set_up_two_step, sign_in

RECOVERY = re.compile(r"<code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>")


def test_codes_are_rfc_6238s_test_vectors():
    # RFC 6238 appendix B (SHA-1, key "12345678901234567890"), last 6 of the 8 digits.
    secret = base64.b32encode(b"12345678901234567890").decode()
    for seconds, code in ((59, "287082"), (1111111109, "081804"), (1234567890, "005924")):
        assert two_step.code_at(secret, seconds // 30) == code
        assert two_step.matching_step(secret, code, seconds) == seconds // 30


def stored(portal, account_id: int) -> Account:
    with portal.app.app_context():
        account = db.session.get(Account, account_id)
        db.session.expunge(account)
        return account


def set_up(portal, client) -> tuple[str, list[str]]:
    """Set two-step sign-in up on the page; returns the key and the recovery codes shown."""
    assert "<svg" in client.get("/auth/two-step").get_data(as_text=True)  # the QR code, inline
    key, page = set_up_two_step(client, portal.clock())
    return key, RECOVERY.findall(page)


def test_an_administrator_sets_up_two_step_before_any_page_opens(
    portal, client, make_account, caplog
):
    admin = make_account("site_admin", "site-a", two_step=False)
    assert sign_in(client, admin).status_code == 302
    for page in ("/tasks/", "/auth/account", "/accounts/"):
        answer = client.get(page)
        assert answer.headers["Location"] == "/auth/two-step", page
    assert "set it up to go on" in client.get("/auth/two-step").get_data(as_text=True)

    wrong = post_form(client, "/auth/two-step", {"code": "000000"}).get_data(as_text=True)
    assert "not the code your app shows" in wrong
    assert stored(portal, admin.id).totp_secret is None

    with caplog.at_level(logging.WARNING, logger="portal_flask.mail"):
        key, codes = set_up(portal, client)
    assert stored(portal, admin.id).totp_secret == key
    assert len(codes) == two_step.RECOVERY_CODES == len(set(codes))
    assert "Two-step sign-in was set up for your account." in caplog.text
    assert client.get("/tasks/").status_code == 200
    assert codes[0] not in client.get("/auth/two-step").get_data(as_text=True)  # shown once


def test_signing_in_with_two_step_needs_a_fresh_code_or_a_recovery_code_once(
    portal, make_account, caplog
):
    admin = make_account("site_admin", "site-a", two_step=False)
    first = portal.client()
    sign_in(first, admin)
    key, codes = set_up(portal, first)

    for code in ("", "123456", pyotp.TOTP(key).at(portal.clock() - 300)):
        refused = sign_in(portal.client(), admin, code=code or "-")
        assert BAD_CREDENTIALS in refused.get_data(as_text=True), code
    portal.clock.advance(30)
    code = pyotp.TOTP(key).at(portal.clock())
    assert sign_in(portal.client(), admin, code=code).headers["Location"] == "/tasks/"
    replayed = sign_in(portal.client(), admin, code=code)
    assert BAD_CREDENTIALS in replayed.get_data(as_text=True)  # RFC 6238 5.2: once only

    with caplog.at_level(logging.WARNING, logger="portal_flask.mail"):
        typed = codes[0].upper().replace("-", " ")  # case and separators do not matter
        assert sign_in(portal.client(), admin, code=typed).headers["Location"] == "/tasks/"
    assert "A recovery code was used to sign in; 9 are left." in caplog.text
    again = sign_in(portal.client(), admin, code=codes[0])
    assert BAD_CREDENTIALS in again.get_data(as_text=True)


def test_a_wrong_code_counts_as_a_failed_sign_in(portal, make_account):
    admin = make_account("site_admin", "site-a")
    client = portal.client()
    for _ in range(portal.config.max_failed_sign_ins):
        assert BAD_CREDENTIALS in sign_in(client, admin, code="111111").get_data(as_text=True)
    assert "Too many failed sign-ins" in sign_in(client, admin).get_data(as_text=True)


def test_new_recovery_codes_need_a_code_and_replace_the_old(portal, make_account):
    admin = make_account("site_admin", "site-a", two_step=False)
    client = portal.client()
    sign_in(client, admin)
    key, old = set_up(portal, client)
    wrong = post_form(client, "/auth/two-step/recovery-codes", {"code": "999999"}, "/auth/two-step")
    assert "wrong or already used" in wrong.get_data(as_text=True)
    portal.clock.advance(30)
    page = post_form(
        client,
        "/auth/two-step/recovery-codes",
        {"code": pyotp.TOTP(key).at(portal.clock())},
        "/auth/two-step",
    ).get_data(as_text=True)
    new = RECOVERY.findall(page)
    assert len(new) == two_step.RECOVERY_CODES and not set(new) & set(old)
    assert BAD_CREDENTIALS in sign_in(portal.client(), admin, code=old[1]).get_data(as_text=True)
    assert sign_in(portal.client(), admin, code=new[1]).status_code == 302


def test_an_administrator_keeps_two_step_and_a_site_user_may_turn_it_off(portal, make_account):
    admin = make_account("site_admin", "site-a")
    client = portal.client()
    sign_in(client, admin)
    answer = post_form(client, "/auth/two-step/off", {"code": admin.next_code()}, "/auth/two-step")
    assert answer.headers["Location"] == "/auth/two-step"
    assert "Administrators keep two-step" in client.get("/auth/two-step").get_data(as_text=True)
    assert stored(portal, admin.id).totp_secret is not None

    user = make_account("site_user", "site-a", two_step=True)
    client = portal.client()
    sign_in(client, user)
    post_form(client, "/auth/two-step/off", {"code": user.next_code()}, "/auth/two-step")
    assert stored(portal, user.id).totp_secret is None
    assert sign_in(portal.client(), user, code="-").status_code == 302  # the password alone


def test_another_administrator_turns_two_step_off_and_it_is_set_up_again(
    portal, make_account, caplog
):
    lost = make_account("site_admin", "site-a")
    helper = make_account("site_admin", "site-a")
    stranger = make_account("site_admin", "site-b")
    held = portal.client()
    sign_in(held, lost)

    other_site = portal.client()
    sign_in(other_site, stranger)
    refused = post_form(other_site, f"/accounts/{lost.id}/two-step/off", {}, "/tasks/")
    assert refused.status_code == 404
    admin = portal.client()
    sign_in(admin, helper)
    assert post_form(admin, f"/accounts/{helper.id}/two-step/off", {}, "/tasks/").status_code == 404

    with caplog.at_level(logging.WARNING, logger="portal_flask.mail"):
        done = post_form(admin, f"/accounts/{lost.id}/two-step/off", {}, "/tasks/")
    assert done.headers["Location"] == f"/accounts/{lost.id}"
    assert "Two-step sign-in is off" in admin.get(done.headers["Location"]).get_data(as_text=True)
    assert f"turned off for your account by {helper.email}" in caplog.text
    assert stored(portal, lost.id).totp_secret is None
    assert held.get("/tasks/").status_code == 302  # signed out everywhere

    again = portal.client()
    assert sign_in(again, lost, code="-").status_code == 302
    assert again.get("/tasks/").headers["Location"] == "/auth/two-step"
