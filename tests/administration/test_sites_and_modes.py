"""Sites, mode settings and destinations as the API reads them back from DynamoDB."""

from __future__ import annotations

import pytest

from administration import destinations, mode_settings, sites
from administration.errors import (
    AdministrationError,
    OutOfRange,
    RetiredMode,
    UnknownDestination,
    UnknownMode,
    UnknownSite,
)
from functions.core.destinations import Destination
from functions.core.models import ModeSettings, Site
from scripts.local_cloud.seed import publish_mode


def test_a_site_is_created_once_listed_and_suspended_and_resumed(cloud):
    sites.create_site("site-b", "Klinik B")
    sites.create_site("site-a", "Klinik A")
    with pytest.raises(AdministrationError, match="site site-a exists already"):
        sites.create_site("site-a", "Other")
    with pytest.raises(AdministrationError, match="cannot be a site id"):
        sites.create_site("../x", "X")
    assert [(s.site_id, s.name) for s in sites.list_sites()] == [
        ("site-a", "Klinik A"),
        ("site-b", "Klinik B"),
    ]

    sites.set_suspended("site-a", True)
    assert Site.get("site-a", consistent_read=True).suspended is True
    assert Site.get("site-b", consistent_read=True).suspended is False
    sites.set_suspended("site-a", False)
    assert Site.get("site-a", consistent_read=True).suspended is False
    with pytest.raises(UnknownSite):
        sites.set_suspended("site-z", True)


def test_site_modes_lists_the_catalog_with_the_sites_settings(cloud):
    sites.create_site("site-a", "Klinik A")
    publish_mode("retired_unused", {"Name": "Old"}, disabled=True)
    before = {m.mode_id: m for m in mode_settings.site_modes("site-a")}
    assert "retired_unused" not in before
    assert before["demo_fft"].enabled is False and before["demo_fft"].configured is False
    assert before["demo_fft"].name == "Demo FFT"

    mode_settings.save_mode_settings(
        "site-a", "demo_fft", enabled=True, vcpus=8, memory_mib=32768, spot=False
    )
    stored = ModeSettings.get("site-a", "demo_fft", consistent_read=True)
    assert (stored.enabled, stored.vcpus, stored.memory_mib, stored.spot) == (
        True,
        8,
        32768,
        False,
    )
    assert stored.timeout_seconds == 3600, "a value not given keeps its default"
    after = {m.mode_id: m for m in mode_settings.site_modes("site-a")}
    assert after["demo_fft"].enabled and after["demo_fft"].settings.vcpus == 8
    mode_settings.save_mode_settings("site-a", "demo_fft", enabled=False)
    assert ModeSettings.get("site-a", "demo_fft", consistent_read=True).vcpus == 8


def test_mode_settings_refuse_what_batch_or_the_catalog_would_refuse(cloud):
    sites.create_site("site-a", "Klinik A")
    publish_mode("old", {"Name": "Old"}, disabled=True)
    with pytest.raises(OutOfRange) as raised:
        mode_settings.enable_mode("site-a", "demo_fft", timeout_seconds=30)
    assert (raised.value.field, raised.value.least) == ("timeout_seconds", 60)
    assert "timeout_seconds must be at least 60, not 30" in str(raised.value)
    with pytest.raises(OutOfRange):
        mode_settings.enable_mode("site-a", "demo_fft", vcpus=0)
    with pytest.raises(UnknownMode):
        mode_settings.enable_mode("site-a", "nope")
    with pytest.raises(RetiredMode):
        mode_settings.enable_mode("site-a", "old")
    with pytest.raises(UnknownSite):
        mode_settings.enable_mode("site-z", "demo_fft")
    with pytest.raises(ModeSettings.DoesNotExist):
        ModeSettings.get("site-a", "demo_fft", consistent_read=True)


def test_destinations_are_put_replaced_found_and_removed(cloud):
    sites.create_site("site-a", "Klinik A")
    pacs = Destination("pacs", "PACS", ip="10.0.0.5", port=4242, aet="YARRA", aec="ORTHANC")
    share = Destination("share", "smb", location="/mnt/recon", modes=("demo_fft",))
    assert destinations.put_destination("site-a", pacs) is False
    assert destinations.put_destination("site-a", share) is False
    assert destinations.list_destinations("site-a") == [pacs, share]
    moved = Destination("pacs", "PACS", ip="10.0.0.6", port=104, aet="YARRA", aec="PACS2")
    assert destinations.put_destination("site-a", moved) is True
    assert destinations.find_destination("site-a", "pacs") == moved
    assert destinations.remove_destination("site-a", "pacs") == moved
    assert Site.get("site-a", consistent_read=True).destinations.as_dict() == {
        "share": share.to_record()
    }
    with pytest.raises(UnknownDestination, match=r"has no destination pacs \(it has: share\)"):
        destinations.remove_destination("site-a", "pacs")
    with pytest.raises(UnknownMode):
        destinations.put_destination(
            "site-a", Destination("x", "smb", location="/x", modes=("unpublished",))
        )
