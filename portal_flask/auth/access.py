"""Who may see what: roles, the current site, site scoping and the audit log.

Every page that shows or changes a site's objects goes through these helpers,
so the rules live in one place:

- :func:`roles_required` guards a view by role (signed-out → sign-in page, wrong
  role → 403).
- :func:`site_scoped_or_404` answers 404 for another site's object, so an id
  from another site cannot even be confirmed to exist; an operator sees all.
- :func:`audit` records a settings change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import abort, current_app
from flask_login import current_user, login_required

from portal_flask.extensions import db
from portal_flask.models import OPERATOR, SITE_USER, AuditLog

F = TypeVar("F", bound=Callable[..., Any])


def roles_required(*roles: str) -> Callable[[F], F]:
    """Allow the view only to signed-in accounts whose role is one of ``roles``."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return login_required(guarded)  # type: ignore[return-value]

    return decorate


def is_operator() -> bool:
    return current_user.is_authenticated and current_user.role == OPERATOR


def current_site_id() -> str | None:
    """The signed-in account's site; ``None`` for an operator (or when signed out)."""
    if not current_user.is_authenticated:
        return None
    return current_user.site_id


def current_user_name() -> str | None:
    """The site user a ``site_user`` account acts as; ``None`` for the other roles."""
    if current_user.is_authenticated and current_user.role == SITE_USER:
        return current_user.user_name
    return None


def site_scoped_or_404(site_id: str | None) -> str:
    """``site_id`` when the signed-in account may see that site's objects, else 404.

    An operator may see every site; everyone else only their own. ``None`` (an
    object without a site, or one that does not exist) is 404 for everyone.
    """
    if not current_user.is_authenticated or not site_id:
        abort(404)
    if current_user.role != OPERATOR and current_user.site_id != site_id:
        abort(404)
    return site_id


def user_scoped_or_404(site_id: str | None, user_name: str | None) -> str:
    """Like :func:`site_scoped_or_404`, and a site user sees only their own objects."""
    site = site_scoped_or_404(site_id)
    if current_user.role == SITE_USER and current_user.user_name != user_name:
        abort(404)
    return site


def audit(
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
    *,
    site_id: str | None = None,
) -> AuditLog:
    """Record a settings change by the signed-in account, and commit it.

    Parameters
    ----------
    action
        What was done, dotted: ``mode.update``, ``key.create``, ``site.suspend`` …
    target
        What it was done to: a mode id, a user name, a destination name …
    details
        The values set (never a secret, never PHI), stored as JSON.
    site_id
        The site changed; defaults to the account's own (pass it when an operator acts).
    """
    entry = AuditLog(
        at=datetime.fromtimestamp(current_app.config["PORTAL"].clock(), UTC),
        account_id=current_user.id if current_user.is_authenticated else None,
        site_id=site_id if site_id is not None else current_site_id(),
        action=action,
        target=target,
        details=details or {},
    )
    db.session.add(entry)
    db.session.commit()
    return entry
