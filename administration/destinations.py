"""A site's destinations, kept on its record (``Site.destinations``) where the API reads them."""

from __future__ import annotations

from typing import Any

from administration.errors import UnknownDestination
from administration.mode_settings import catalog_entry
from administration.sites import get_site
from functions.core.destinations import Destination, site_destinations
from functions.core.models import Site


def list_destinations(site_id: str) -> list[Destination]:
    """The site's destinations, by name."""
    return site_destinations(_records(get_site(site_id)))


def find_destination(site_id: str, name: str) -> Destination:
    for destination in list_destinations(site_id):
        if destination.name == name:
            return destination
    raise UnknownDestination(site_id, name, [d.name for d in list_destinations(site_id)])


def put_destination(site_id: str, destination: Destination) -> bool:
    """Store ``destination``, replacing one of the same name; says whether it replaced one.

    Raises
    ------
    UnknownSite, UnknownMode
        When the site does not exist, or the destination names a mode not in the catalog.
    """
    site = get_site(site_id)
    for mode_id in destination.modes:
        catalog_entry(mode_id)
    records = _records(site)
    replaced = destination.name in records
    records[destination.name] = destination.to_record()
    _save(site, records)
    return replaced


def remove_destination(site_id: str, name: str) -> Destination:
    """Remove the destination called ``name`` and return what it was."""
    site = get_site(site_id)
    records = _records(site)
    if name not in records:
        raise UnknownDestination(site_id, name, sorted(records))
    removed = Destination.from_record(name, records.pop(name))
    _save(site, records)
    return removed


def _records(site: Site) -> dict[str, Any]:
    value = site.destinations
    if value is None:
        return {}
    as_dict = getattr(value, "as_dict", None)
    return dict(as_dict() if as_dict else value)


def _save(site: Site, records: dict[str, Any]) -> None:
    site.update(actions=[Site.destinations.set(records)], condition=Site.site_id.exists())
