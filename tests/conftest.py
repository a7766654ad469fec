"""Servers for the tests: one AWS emulator per session, a fresh local cloud per test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.admin import Admin
from scripts.images import PORTAL, WORKER
from scripts.local_cloud.api_client import ApiClient
from scripts.local_cloud.cloud import LocalCloud
from scripts.local_cloud.emulator import Emulator
from scripts.local_cloud.seed import DEMO_MODE, publish_mode, seed_site
from tests.helpers.cloud import Uploader
from tests.helpers.images import BuiltImages, session_images
from tests.helpers.inspect_job import INSPECT_JOB
from tests.helpers.sentry import IngestServer, sentry_off


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(scope="session")
def images() -> BuiltImages:
    """The session's one build of the container images (skips where no engine runs)."""
    return session_images()


@pytest.fixture(scope="session")
def worker_image(images: BuiltImages) -> str:
    return images.image(WORKER)


@pytest.fixture(scope="session")
def portal_image(images: BuiltImages) -> str:
    return images.image(PORTAL)


@pytest.fixture
def make_cloud(emulator: Emulator, tmp_path: Path) -> Iterator:
    """Builds a started LocalCloud on a freshly reset emulator; stops it after the test."""
    started: list[LocalCloud] = []

    def make(**options) -> LocalCloud:
        emulator.reset()
        options.setdefault("worker_command", INSPECT_JOB)
        cloud = LocalCloud(endpoint=emulator.endpoint, work_dir=tmp_path / "cloud", **options)
        started.append(cloud)
        return cloud.start()

    yield make
    for cloud in started:
        cloud.stop()


@pytest.fixture
def seeded_cloud(make_cloud):
    """A cloud with site-a (users alice, bob; demo_fft enabled) and site-b (user carol)."""

    def make(**options) -> tuple[LocalCloud, Uploader]:
        cloud = make_cloud(**options)
        publish_mode(DEMO_MODE["mode_id"], DEMO_MODE["client_config"])
        publish_mode("retired_mode", {"Name": "Retired"}, disabled=True)
        seed_site(
            "site-a",
            "Site A",
            ["alice", "bob"],
            {"demo_fft": {"vcpus": 2, "memory_mib": 2048, "spot": True, "timeout_seconds": 600}},
        )
        seed_site("site-b", "Site B", ["carol"], {})
        return cloud, Uploader(cloud)

    return make


@pytest.fixture
def sentry_reset() -> Iterator[None]:
    """Start and end a test with no Sentry client, so other tests are unaffected."""
    sentry_off()
    yield
    sentry_off()


@pytest.fixture
def sentry_ingest(sentry_reset: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[IngestServer]:
    """A Sentry ingest endpoint on loopback (``.dsn`` points the SDK at it)."""
    # A proxy from the environment would take the SDK's request off 127.0.0.1.
    for scheme in ("http", "https", "all"):
        monkeypatch.delenv(f"{scheme}_proxy", raising=False)
        monkeypatch.delenv(f"{scheme.upper()}_PROXY", raising=False)
    server = IngestServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def api_cloud(make_cloud):
    """A cloud whose users hold real keys: alice and bob at site-a, carol at site-b.

    Returns the cloud, an API client per user (signing as the Yarra client does),
    an uploader and the admin that made them.
    """

    def make(**options):
        cloud = make_cloud(**options)
        admin = Admin(
            settings=cloud.settings,
            iam=cloud.clients.session.client("iam"),
            credentials=cloud.credentials,
            site_user_group=cloud.resources.site_user_group(),
            api_url=cloud.api.endpoint,
            s3_endpoint=cloud.endpoint,
            say=lambda _: None,
        )
        admin.publish_mode(DEMO_MODE["mode_id"], DEMO_MODE["client_config"])
        admin.add_site("site-a", "Site A")
        admin.add_site("site-b", "Site B")
        admin.enable_mode(
            "site-a", "demo_fft", vcpus=2, memory_mib=2048, spot=True, timeout_seconds=600
        )
        clients = {}
        for user, site in (("alice", "site-a"), ("bob", "site-a"), ("carol", "site-b")):
            key = admin.add_user(user, site)
            clients[user] = ApiClient(
                cloud.api.endpoint, key.access_key_id, key.secret_access_key, cloud.region
            )
        return cloud, clients, Uploader(cloud), admin

    return make


@pytest.fixture(scope="session")
def s3peer() -> Path:
    """The AWS Go SDK v2 test peer, built once (offline); skips the test where Go is missing."""
    import tempfile

    from tests.helpers.go import GoUnavailable, build_s3peer
    from tests.helpers.unavailable import unavailable

    try:
        return build_s3peer(Path(tempfile.gettempdir()) / "yarracloud-go-cache")
    except GoUnavailable as missing:
        unavailable(str(missing))


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A real Orthanc PACS on free loopback ports for the session (``tests/helpers/orthanc.py``).

    Skips where Orthanc is not installed, except in CI (``CI`` set), where it fails.
    """
    from tests.helpers.orthanc import ORTHANC_BINARY, Orthanc
    from tests.helpers.unavailable import require_file

    require_file(ORTHANC_BINARY, "orthanc")
    with Orthanc(tmp_path_factory.mktemp("orthanc")) as running:
        yield running
