"""The mode catalog and each site's settings for a mode: on or off, size, spot, time limit.

The submit path reads :class:`~functions.core.models.ModeSettings` for every task,
so what is written here is what the next job of that mode runs with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from administration.errors import (
    AdministrationError,
    OutOfRange,
    RetiredMode,
    UnknownMode,
)
from administration.sites import check_id, get_site
from functions.core.models import ModeCatalog, ModeSettings
from functions.core.modes import InvalidClientConfig, validate_client_config

MIN_TIMEOUT_SECONDS = 60
"""AWS Batch refuses a shorter attempt duration."""


@dataclass(frozen=True)
class SiteMode:
    """A published mode as one site sees it: its name and the site's settings for it."""

    mode_id: str
    name: str
    retired: bool
    configured: bool
    """Whether the site has settings for the mode (else ``settings`` holds the defaults)."""
    settings: ModeSettings

    @property
    def enabled(self) -> bool:
        return self.configured and bool(self.settings.enabled) and not self.retired


def publish_mode(mode_id: str, client_config: Mapping[str, Any]) -> tuple[ModeCatalog, bool]:
    """Put a mode's ``[ClientConfig]`` into the catalog; also says whether it replaced one."""
    check_id("mode id", mode_id)
    try:
        config = validate_client_config(client_config)
    except InvalidClientConfig as exc:
        raise AdministrationError(str(exc)) from None
    try:
        ModeCatalog.get(mode_id, consistent_read=True)
        replaced = True
    except ModeCatalog.DoesNotExist:
        replaced = False
    entry = ModeCatalog(mode_id, client_config=config, disabled=False)
    entry.save()
    return entry, replaced


def catalog_entry(mode_id: str) -> ModeCatalog:
    try:
        return ModeCatalog.get(mode_id, consistent_read=True)
    except ModeCatalog.DoesNotExist:
        raise UnknownMode(mode_id) from None


def save_mode_settings(
    site_id: str,
    mode_id: str,
    *,
    enabled: bool | None = None,
    vcpus: int | None = None,
    memory_mib: int | None = None,
    spot: bool | None = None,
    timeout_seconds: int | None = None,
) -> ModeSettings:
    """Write a site's settings for a published mode; values left None keep what is there.

    Raises
    ------
    UnknownSite, UnknownMode, RetiredMode
        When the site or the mode does not exist, or the mode is retired and
        ``enabled`` is asked for.
    OutOfRange
        When a number is below what AWS Batch accepts.
    """
    get_site(site_id)
    catalog = catalog_entry(mode_id)
    if enabled and catalog.disabled:
        raise RetiredMode(mode_id)
    for name, value, least in (
        ("vcpus", vcpus, 1),
        ("memory_mib", memory_mib, 1),
        ("timeout_seconds", timeout_seconds, MIN_TIMEOUT_SECONDS),
    ):
        if value is not None and value < least:
            raise OutOfRange(name, value, least)
    try:
        settings = ModeSettings.get(site_id, mode_id, consistent_read=True)
    except ModeSettings.DoesNotExist:
        settings = ModeSettings(site_id, mode_id)
    for name, value in (
        ("enabled", enabled),
        ("vcpus", vcpus),
        ("memory_mib", memory_mib),
        ("spot", spot),
        ("timeout_seconds", timeout_seconds),
    ):
        if value is not None:
            setattr(settings, name, value)
    settings.save()
    return settings


def enable_mode(site_id: str, mode_id: str, **values: Any) -> ModeSettings:
    """Let a site use a mode, with the settings given (see :func:`save_mode_settings`)."""
    return save_mode_settings(site_id, mode_id, enabled=True, **values)


def disable_mode(site_id: str, mode_id: str) -> ModeSettings:
    """Stop a site from using a mode; its settings stay for when it is enabled again."""
    get_site(site_id)
    try:
        settings = ModeSettings.get(site_id, mode_id, consistent_read=True)
    except ModeSettings.DoesNotExist:
        raise AdministrationError(f"mode {mode_id} is not enabled at site {site_id}") from None
    settings.enabled = False
    settings.save()
    return settings


def site_modes(site_id: str) -> list[SiteMode]:
    """Every published mode with the site's settings for it, by name.

    The catalog holds one item per published mode and is read whole; the site's
    settings come from one query on its partition.
    """
    configured = {s.mode_id: s for s in ModeSettings.query(site_id, consistent_read=True)}
    modes = []
    for entry in ModeCatalog.scan():
        settings = configured.get(entry.mode_id)
        if entry.disabled and settings is None:
            continue
        config = entry.client_config.as_dict() if entry.client_config else {}
        modes.append(
            SiteMode(
                mode_id=entry.mode_id,
                name=str(config.get("Name") or entry.mode_id),
                retired=bool(entry.disabled),
                configured=settings is not None,
                settings=settings or ModeSettings(site_id, entry.mode_id, enabled=False),
            )
        )
    return sorted(modes, key=lambda mode: (mode.name.lower(), mode.mode_id))
