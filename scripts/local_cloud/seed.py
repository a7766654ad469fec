"""Puts a site, its users and its mode settings into the tables (until the portal does it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from functions.core.models import ModeCatalog, ModeSettings, Site, User
from functions.core.modes import CLIENT_CONFIG_DEFAULTS

DEMO_MODE = {
    "mode_id": "demo_fft",
    "client_config": {**CLIENT_CONFIG_DEFAULTS, "Name": "Demo FFT", "Tag": "demo"},
}


def publish_mode(mode_id: str, client_config: Mapping[str, Any], disabled: bool = False) -> None:
    ModeCatalog(mode_id, client_config=dict(client_config), disabled=disabled).save()


def seed_site(
    site_id: str, name: str, users: Iterable[str], modes: Mapping[str, Mapping[str, Any]]
) -> None:
    """A site with ``users`` and, per mode id, its ModeSettings values (enabled, vcpus …)."""
    Site(site_id, name=name).save()
    for user_name in users:
        User(user_name, site_id=site_id).save()
    for mode_id, values in modes.items():
        ModeSettings(site_id, mode_id, **values).save()
