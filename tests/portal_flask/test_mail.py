"""Reset links by mail: a real SMTP server (aiosmtpd) receives the message the portal sends."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Iterator
from email import message_from_bytes

import pytest
from aiosmtpd.controller import UnthreadedController

from portal_flask import create_app
from tests.portal_flask.helpers import post_form


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
    assert response.status_code == 302
    (message,) = inbox.messages
    assert message["To"] == user.email
    assert message["Subject"] == "Set a new YarraCloud password"
    link = re.search(r"https://localhost(/auth/reset/\S+)", message.get_payload()).group(1)
    assert link not in caplog.text
    new = "a mailed new passphrase"
    post_form(client, link, {"new_password": new, "confirm_password": new}, "/auth/sign-in")
    assert sign_in(portal.client(), user, password=new).status_code == 302
