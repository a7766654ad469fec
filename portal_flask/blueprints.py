"""The blueprints the portal registers, in navigation order.

Each module named here exposes ``bp`` (a :class:`flask.Blueprint`) and ``NAV``
(a tuple of :class:`NavEntry`, possibly empty). Add a page by adding its module.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal_flask.models import OPERATOR, SITE_ADMIN, SITE_USER

ALL_ROLES: frozenset[str] = frozenset({OPERATOR, SITE_ADMIN, SITE_USER})


@dataclass(frozen=True)
class NavEntry:
    """A link in the top navigation, shown to accounts whose role is in ``roles``."""

    label: str
    endpoint: str
    roles: frozenset[str] = ALL_ROLES


BLUEPRINT_MODULES: tuple[str, ...] = (
    "portal_flask.auth",
    "portal_flask.tasks",
    "portal_flask.modes",
    "portal_flask.keys",
    "portal_flask.usage",
    "portal_flask.billing",
    "portal_flask.account_admin",
    "portal_flask.admin",
)
