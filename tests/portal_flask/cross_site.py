"""For every portal route that takes an id: how to name another site's object.

``test_security.py`` discovers every route with a URL converter from
``app.url_map`` and requests it, signed in as site-a's administrator and as a
site-a user, with the values built here, which name an object that EXISTS at
site-b. Each must answer 404. A route missing from both tables below fails the
test, so a new route cannot go unchecked.

Add a line for each new route: endpoint → ``builder(portal) -> view arguments``.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from functions.core.models import Task
from tests.portal_flask.helpers import sign_in


def site_b_task(portal) -> str:
    """A task of carol's at site-b, written straight into the task table."""
    task_id = str(uuid.uuid4())
    now = time.time()
    Task(
        task_id,
        site_id="site-b",
        user_name="carol",
        status="RUNNING",
        created_at=now,
        touched_at=now,
        status_times={"UPLOADING": now, "RUNNING": now},
        recon_mode="demo_fft",
    ).save()
    return task_id


def site_b_destination(portal) -> str:
    """A destination on site-b's record."""
    from administration.destinations import put_destination
    from functions.core.destinations import Destination

    put_destination("site-b", Destination("pacs-b", "PACS", ip="10.9.9.9", aet="B", aec="PB"))
    return "pacs-b"


def site_b_key(portal) -> dict[str, str]:
    """carol (site-b) as an IAM user holding an access key: the key's route arguments."""
    iam = portal.cloud.clients.session.client("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName="carol")
    keys = iam.list_access_keys(UserName="carol")["AccessKeyMetadata"]
    key = keys[0] if keys else iam.create_access_key(UserName="carol")["AccessKey"]
    return {"user_name": "carol", "key_id": key["AccessKeyId"]}


def site_b_account(portal) -> int:
    """A sign-in of carol's at site-b."""
    return portal.account("site_user", "site-b").id


def site_b_session(portal) -> dict[str, int]:
    """A signed-in session of a site-b account: the session's route arguments."""
    account = portal.account("site_user", "site-b")
    client = portal.client()
    sign_in(client, account)
    with portal.app.app_context():
        from portal_flask.extensions import db
        from portal_flask.models import AccountSession

        row = db.session.scalar(db.select(AccountSession).filter_by(account_id=account.id))
        return {"account_id": account.id, "session_id": row.id}


OTHER_SITE: dict[str, Callable[[Any], dict[str, Any]]] = {
    "tasks.detail": lambda portal: {"task_id": site_b_task(portal)},
    "modes.destination_remove": lambda portal: {"name": site_b_destination(portal)},
    "modes.destination_test": lambda portal: {"name": site_b_destination(portal)},
    "keys.create_key": lambda portal: {"user_name": "carol"},
    "keys.rotate": lambda portal: {"user_name": "carol"},
    "keys.create_sign_in": lambda portal: {"user_name": "carol"},
    "keys.revoke": site_b_key,
    "keys.set_active": site_b_key,
    "keys.agent_config": site_b_key,
    "accounts.detail": lambda portal: {"account_id": site_b_account(portal)},
    "accounts.disable": lambda portal: {"account_id": site_b_account(portal)},
    "accounts.enable": lambda portal: {"account_id": site_b_account(portal)},
    "accounts.revoke_all": lambda portal: {"account_id": site_b_account(portal)},
    "accounts.turn_off_two_step": lambda portal: {"account_id": site_b_account(portal)},
    "accounts.revoke_session": site_b_session,
    "auth.revoke_session": lambda portal: {"session_id": site_b_session(portal)["session_id"]},
    "admin.suspend": lambda portal: {"site_id": "site-b"},
    "admin.resume": lambda portal: {"site_id": "site-b"},
}
"""Routes whose arguments name a site's object."""

NOT_SITE_OBJECTS: dict[str, str] = {
    "static": "files shipped with the portal",
    "auth.reset_password": "a one-time reset token, which names its own account",
    "modes.edit": "a mode of the shared catalog; the settings shown are the account's own site's",
}
"""Routes with arguments that name no site's object, and why."""

CSRF_EXEMPT: dict[str, str] = {
    "billing.stripe_webhook": "called by Stripe, not a browser; verified by Stripe's signature",
    "billing.stripe_meter_errors": (
        "called by Stripe's event destination, not a browser; verified by its own signing secret"
    ),
}
"""Endpoints exempt from CSRF protection, and what protects them instead."""
