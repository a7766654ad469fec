"""Reset links by mail: a real SMTP server (aiosmtpd) receives the message the portal sends."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Iterator
from email import message_from_bytes

import pyotp
import pytest
from aiosmtpd.controller import UnthreadedController

from portal_flask import create_app
from tests.portal_flask.helpers import post_form, set_up_two_step, sign_in


class Inbox:
    """Keeps every message the server accepts."""

    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    """An SMTP server on a port the OS chose, and what it received."""
    inbox = Inbox()
    loop = asyncio.new_event_loop()
    controller = UnthreadedController(inbox, hostname="127.0.0.1", port=0, loop=loop)
    controller.begin()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield controller.server.sockets[0].getsockname()[1], inbox
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.run_until_complete(controller.finalize())
    loop.close()
    asyncio.set_event_loop(None)


def test_a_reset_link_is_mailed_when_a_mail_server_is_set(
    portal, make_account, sign_in, smtp, caplog
):
    port, inbox = smtp
    app = create_app(portal.config.with_(smtp_host="127.0.0.1", smtp_port=port))
    user = make_account("site_user", "site-a")
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    with caplog.at_level(logging.INFO):
        response = post_form(client, "/auth/forgot-password", {"email": user.email})
        response.close()  # the link is mailed once the answer is sent
    assert response.status_code == 302
    (message,) = inbox.messages
    assert message["To"] == user.email
    assert message["Subject"] == "Set a new YarraCloud password"
    link = re.search(r"https://localhost(/auth/reset/\S+)", message.get_payload()).group(1)
    assert link not in caplog.text
    new = "a mailed new passphrase"
    post_form(client, link, {"new_password": new, "confirm_password": new}, "/auth/sign-in")
    assert sign_in(portal.client(), user, password=new).status_code == 302


def test_each_change_of_credentials_is_mailed_to_the_owner(portal, make_account, smtp):
    port, inbox = smtp
    app = create_app(portal.config.with_(smtp_host="127.0.0.1", smtp_port=port))
    user = make_account("site_user", "site-a")
    changed = type(user)(**{**user.__dict__, "password": "a changed passphrase of mine"})

    def client():
        made = app.test_client()
        made.environ_base["HTTP_REFERER"] = "https://localhost/"
        return made

    def code_of(key: str) -> dict[str, str]:
        portal.clock.advance(30)
        return {"code": pyotp.TOTP(key).at(portal.clock())}

    browser = client()
    sign_in(browser, user)
    new = changed.password
    post_form(
        browser,
        "/auth/password",
        {"current_password": user.password, "new_password": new, "confirm_password": new},
        "/auth/account",
    )
    key, page = set_up_two_step(browser, portal.clock())
    recovery = re.search(r"<code>([a-z0-9-]{19})</code>", page).group(1)
    assert sign_in(client(), changed, code=recovery).status_code == 302
    post_form(browser, "/auth/two-step/recovery-codes", code_of(key), "/auth/two-step")
    post_form(browser, "/auth/two-step/off", code_of(key), "/auth/two-step")
    post_form(client(), "/auth/forgot-password", {"email": user.email}).close()
    link = re.search(r"https://localhost(/auth/reset/\S+)", inbox.messages[-1].get_payload())
    last = {"new_password": "the passphrase after a reset"}
    post_form(client(), link.group(1), {**last, "confirm_password": last["new_password"]})

    notices = [
        " ".join(message.get_payload().split())
        for message in inbox.messages
        if message["Subject"] == "Your YarraCloud sign-in changed"
    ]
    assert [text.split(" Account: ")[0] for text in notices] == [
        "The password of your YarraCloud account was changed.",
        "Two-step sign-in was set up for your account.",
        "A recovery code was used to sign in; 9 are left.",
        "New recovery codes were made; the old ones no longer work.",
        "Two-step sign-in was turned off for your account.",
        "The password of your YarraCloud account was reset by a link.",
    ]
    assert {message["To"] for message in inbox.messages} == {user.email}
    for text in notices:
        assert f"Account: {user.email}" in text and "https://localhost/auth/forgot-password" in text
