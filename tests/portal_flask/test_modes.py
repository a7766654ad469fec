"""Per-protocol settings: what a site administrator sees and changes, and where it is written."""

from __future__ import annotations

import socket

import pytest

from functions.core.connection_tests import pending, record_result
from functions.core.models import ModeSettings, Site
from portal_flask.extensions import db
from portal_flask.models import AuditLog
from tests.portal_flask.helpers import post_form


def audit_entries(portal, action: str) -> list[AuditLog]:
    with portal.app.app_context():
        return list(db.session.scalars(db.select(AuditLog).where(AuditLog.action == action)))


@pytest.fixture
def admin_client(portal, client, make_account, sign_in):
    assert sign_in(client, make_account("site_admin", "site-a")).status_code == 302
    return client


def test_the_settings_page_lists_modes_with_size_purchase_and_price(admin_client):
    page = admin_client.get("/modes/").get_data(as_text=True)
    assert "Demo FFT" in page and "Enabled" in page
    assert "2 vCPUs, 2 GiB" in page and "Spot" in page
    assert "Extra large" in page and "Spot saves" in page
    assert "Attempts lost to spot reclaims are not charged" in page


def test_changing_size_and_purchase_option_writes_the_mode_settings_and_an_audit_record(
    portal, admin_client
):
    response = post_form(
        admin_client,
        "/modes/demo_fft/settings",
        {"enabled": "y", "size": "large", "purchase": "on_demand", "timeout_minutes": "30"},
    )
    assert response.status_code == 302
    settings = ModeSettings.get("site-a", "demo_fft", consistent_read=True)
    assert (settings.enabled, settings.vcpus, settings.memory_mib) == (True, 8, 32768)
    assert (settings.spot, settings.timeout_seconds) == (False, 1800)
    page = admin_client.get("/modes/").get_data(as_text=True)
    assert "Saved Demo FFT" in page and "on-demand" in page
    [entry] = audit_entries(portal, "mode.update")
    assert (entry.site_id, entry.target) == ("site-a", "demo_fft")
    assert entry.details["size"] == "large" and entry.details["spot"] is False


def test_a_bad_time_limit_is_explained_and_nothing_changes(admin_client):
    response = post_form(
        admin_client,
        "/modes/demo_fft/settings",
        {"enabled": "y", "size": "small", "purchase": "spot", "timeout_minutes": "0"},
    )
    assert response.status_code == 400
    assert "Between 1 minute and 7 days" in response.get_data(as_text=True)
    assert ModeSettings.get("site-a", "demo_fft", consistent_read=True).vcpus == 2


def test_a_retired_mode_cannot_be_enabled_and_an_unknown_one_is_404(admin_client):
    response = post_form(
        admin_client,
        "/modes/retired_mode/settings",
        {"enabled": "y", "size": "small", "purchase": "spot", "timeout_minutes": "10"},
        token_from="/modes/",
    )
    assert response.status_code == 404, "a retired mode the site never used is not listed"
    assert admin_client.get("/modes/nope/settings").status_code == 404


def test_site_users_and_operators_cannot_change_settings(portal, make_account, sign_in):
    for role in ("site_user", "operator"):
        client = portal.client()
        sign_in(client, make_account(role, "site-a"))
        assert client.get("/modes/").status_code == 403
        assert client.get("/modes/destinations/").status_code == 403


def test_destinations_are_added_replaced_and_removed_on_the_site_record(portal, admin_client):
    response = post_form(
        admin_client,
        "/modes/destinations/pacs",
        {
            "pacs-name": "main-pacs",
            "pacs-host": "10.0.0.5",
            "pacs-port": "4242",
            "pacs-aec": "ORTHANC",
            "pacs-aet": "YARRA",
        },
        token_from="/modes/destinations/",
    )
    assert response.status_code == 302
    response = post_form(
        admin_client,
        "/modes/destinations/folder",
        {"folder-name": "share", "folder-location": "/mnt/recon", "folder-modes": "demo_fft"},
        token_from="/modes/destinations/",
    )
    assert response.status_code == 302
    records = Site.get("site-a", consistent_read=True).destinations.as_dict()
    assert records == {
        "main-pacs": {
            "method": "PACS",
            "modes": [],
            "ip": "10.0.0.5",
            "port": 4242,
            "aet": "YARRA",
            "aec": "ORTHANC",
        },
        "share": {"method": "smb", "modes": ["demo_fft"], "location": "/mnt/recon"},
    }
    page = admin_client.get("/modes/destinations/").get_data(as_text=True)
    assert "ORTHANC @ 10.0.0.5:4242" in page and "Test from the site" in page

    response = post_form(
        admin_client, "/modes/destinations/main-pacs/remove", {}, token_from="/modes/destinations/"
    )
    assert response.status_code == 302
    assert set(Site.get("site-a", consistent_read=True).destinations.as_dict()) == {"share"}
    assert [e.action for e in audit_entries(portal, "destination.add")] == [
        "destination.add",
        "destination.add",
    ]
    assert [e.target for e in audit_entries(portal, "destination.remove")] == ["main-pacs"]
    response = post_form(
        admin_client, "/modes/destinations/main-pacs/remove", {}, token_from="/modes/destinations/"
    )
    assert response.status_code == 404


def test_a_pacs_with_a_bad_ae_title_or_port_is_refused_with_the_reason(admin_client):
    response = post_form(
        admin_client,
        "/modes/destinations/pacs",
        {
            "pacs-name": "p",
            "pacs-host": "10.0.0.5",
            "pacs-port": "70000",
            "pacs-aec": "A\\B",
            "pacs-aet": "THIS-TITLE-IS-TOO-LONG",
        },
        token_from="/modes/destinations/",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "1 to 65535" in page and "no backslash" in page
    assert "at most 16" in page or "longer than 16" in page
    assert Site.get("site-a", consistent_read=True).destinations.as_dict() == {}


def test_the_test_button_asks_the_site_and_opens_no_connection_itself(admin_client):
    # A listening port stands for the PACS: a portal that tested it itself would connect.
    with socket.socket() as pacs:
        pacs.bind(("127.0.0.1", 0))
        pacs.listen()
        pacs.setblocking(False)
        response = post_form(
            admin_client,
            "/modes/destinations/pacs",
            {
                "pacs-name": "main",
                "pacs-host": "127.0.0.1",
                "pacs-port": str(pacs.getsockname()[1]),
                "pacs-aec": "PACS",
                "pacs-aet": "YARRA",
            },
            token_from="/modes/destinations/",
        )
        assert response.status_code == 302

        response = post_form(
            admin_client, "/modes/destinations/main/test", {}, token_from="/modes/destinations/"
        )

        assert response.status_code == 302
        with pytest.raises(BlockingIOError):
            pacs.accept()
    page = admin_client.get("/modes/destinations/").get_data(as_text=True)
    assert "will test main from there" in page and "waiting for the agent" in page
    assert pending(Site.get("site-a", consistent_read=True)) == ["main"]

    # What the agent posts back (v1/destination_test_result) is what the page shows.
    message = "PACS 'main' at 10.1.2.3:104 (called AE PACS) answers C-ECHO"
    assert record_result(Site.get("site-a"), "main", ok=True, message=message, now=1.0)
    page = admin_client.get("/modes/destinations/").get_data(as_text=True)
    assert "passed" in page and "answers C-ECHO" in page and "waiting for the agent" not in page
