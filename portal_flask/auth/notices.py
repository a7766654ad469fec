"""Mail to an account's owner after its sign-in changed, so a change they did not make is seen.

Sent after a password change or reset, two-step sign-in turned on or off, new
recovery codes, and a recovery code used to sign in. The change stands whether
or not the mail goes out: a mail server that fails is logged, never a failed page.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime

from flask import has_request_context, url_for

from portal_flask import mail
from portal_flask.config import PortalConfig
from portal_flask.models import Account

log = logging.getLogger(__name__)

SUBJECT = "Your YarraCloud sign-in changed"


def send(config: PortalConfig, account: Account, what: str, now: datetime) -> None:
    """Tell ``account``'s owner that ``what`` (a sentence) happened at ``now``."""
    where = (  # a command on the server has no request, so no address of the portal
        url_for("auth.forgot_password", _external=True)
        if has_request_context()
        else '"Forgot your password?" on the portal\'s sign-in page'
    )
    body = (
        f"{what}\n\nAccount: {account.email}\nWhen: {now:%Y-%m-%d %H:%M} UTC\n\n"
        "If it was you, there is nothing to do. If it was not, set a new password with\n"
        f"{where}\nand tell your site administrator.\n"
    )
    try:
        mail.send(config, account.email, SUBJECT, body)
    except (smtplib.SMTPException, OSError):
        log.exception("sign-in change notice not sent", extra={"account_id": account.id})
