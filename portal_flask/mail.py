"""Mail the portal sends (password reset links): by SMTP, or into the log where none is set up.

A local run has no mail server; there the message is written to the portal's
log at WARNING, so whoever runs it can open the link.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from portal_flask.config import PortalConfig

log = logging.getLogger(__name__)


def send(config: PortalConfig, to: str, subject: str, body: str) -> None:
    """Deliver one plain-text message to ``to``.

    Raises
    ------
    smtplib.SMTPException, OSError
        When the configured mail server refuses or cannot be reached.
    """
    if not config.smtp_host:
        log.warning("no mail server configured (YC_PORTAL_SMTP_HOST); mail not sent:\n%s", body)
        return
    message = EmailMessage()
    message["From"] = config.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=30) as smtp:
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls()
            smtp.ehlo()
        smtp.send_message(message)
