"""Sites: creating one, finding one, listing them all, suspending and resuming one."""

from __future__ import annotations

import re

from pynamodb.exceptions import PutError, UpdateError

from administration.errors import AdministrationError, UnknownSite
from functions.core.models import Site
from functions.core.task_store import condition_failed

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_id(what: str, value: str) -> None:
    """Refuse ``value`` as a site or mode id unless it is a short, plain identifier."""
    if not _ID.match(value):
        raise AdministrationError(
            f"{value!r} cannot be a {what}: use up to 64 letters, digits, '.', '_' and '-',"
            " starting with a letter or digit"
        )


def create_site(site_id: str, name: str) -> Site:
    """A new site that bills nothing (``billing_mode`` ``none``); refuses a taken id."""
    check_id("site id", site_id)
    if not name.strip():
        raise AdministrationError("a site needs a name people recognise")
    site = Site(site_id, name=name.strip(), billing_mode="none")
    try:
        site.save(condition=Site.site_id.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            raise AdministrationError(f"site {site_id} exists already; choose another id") from None
        raise
    return site


def get_site(site_id: str) -> Site:
    try:
        return Site.get(site_id, consistent_read=True)
    except Site.DoesNotExist:
        raise UnknownSite(site_id) from None


def list_sites() -> list[Site]:
    """Every site, by id. The site table holds one item per imaging centre, so it is read whole."""
    return sorted(Site.scan(), key=lambda site: site.site_id)


def set_suspended(site_id: str, suspended: bool) -> Site:
    """Suspend a site (the API refuses its requests and submissions) or resume it."""
    site = get_site(site_id)
    try:
        site.update(actions=[Site.suspended.set(suspended)], condition=Site.site_id.exists())
    except UpdateError as exc:
        if condition_failed(exc):
            raise UnknownSite(site_id) from None
        raise
    return site
