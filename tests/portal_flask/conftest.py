"""Portal fixtures: the app on SQLite and on a throwaway PostgreSQL, bound to a seeded cloud.

``portal`` is parametrised over ``sqlite`` and ``postgresql``: every test that uses
it runs twice. The cloud behind it is ``seeded_cloud``: site-a (users alice, bob;
mode demo_fft enabled) and site-b (user carol).
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_flask import create_app
from portal_flask.accounts import create_account
from portal_flask.config import PortalConfig
from portal_flask.migrate import upgrade
from scripts.local_cloud.cloud import LocalCloud
from tests.helpers.cloud import Uploader
from tests.helpers.unavailable import unavailable
from tests.portal_flask.helpers import PASSWORD, Clock, TestAccount, authenticator
from tests.portal_flask.helpers import sign_in as _sign_in

DATABASES = ("sqlite", "postgresql")
_TEMPLATE = "portal_template"
_names = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator:
    """A PostgreSQL server for the session, with a migrated template database.

    Skips where PostgreSQL is not installed, except in CI (``CI`` set), where it fails.
    """
    from tests.helpers.postgres import Postgres, PostgresUnavailable

    try:
        server = Postgres().start()
    except PostgresUnavailable as missing:
        unavailable(str(missing))
    try:
        upgrade(server.create_database(_TEMPLATE))
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("portal-db") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty portal database: a SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "portal.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("postgres")
    name = f"portal_{os.getpid()}_{next(_names)}"
    url = server.create_database(name, template=_TEMPLATE)
    yield url
    server.drop_database(name)


@dataclass
class Portal:
    """The app under test and what it stands on."""

    app: Flask
    config: PortalConfig
    cloud: LocalCloud
    uploader: Uploader
    database: str
    clock: Clock
    accounts: list[TestAccount] = field(default_factory=list)

    def client(self) -> FlaskClient:
        """A fresh browser-like client; on HTTPS (Secure cookies travel) unless configured off."""
        client = self.app.test_client()
        # Browsers send a same-origin Referer with a form; CSRF protection on HTTPS checks it.
        scheme = "https" if self.config.secure_cookies else "http"
        client.environ_base["HTTP_REFERER"] = f"{scheme}://localhost/"
        return client

    def account(
        self,
        role: str = "site_admin",
        site_id: str | None = "site-a",
        user_name: str | None = None,
        email: str | None = None,
        password: str = PASSWORD,
        two_step: bool | None = None,
    ) -> TestAccount:
        """Create an account (an operator gets no site; a site_user defaults to alice/carol).

        Administrators have two-step sign-in set up (as the portal requires) unless
        ``two_step`` is false; a site user has it when ``two_step`` is true.
        """
        from portal_flask.auth import two_step as totp
        from portal_flask.extensions import db

        if role == "operator":
            site_id = None
        if role == "site_user" and user_name is None:
            user_name = {"site-a": "alice", "site-b": "carol"}.get(site_id or "", "alice")
        email = email or f"{role}.{len(self.accounts)}@{site_id or 'operator'}.example.org"
        with self.app.app_context():
            made = create_account(email, password, role, site_id, user_name)
            if two_step is None:
                two_step = totp.required(made)
            secret = None
            if two_step:
                secret = totp.new_secret()
                made.totp_secret = secret
                db.session.commit()
            account = TestAccount(
                made.id,
                made.email,
                password,
                role,
                site_id,
                user_name,
                secret,
                authenticator(self.app, made.id, secret, self.clock) if secret else None,
            )
        self.accounts.append(account)
        return account


@pytest.fixture
def portal_config(database_url: str) -> PortalConfig:
    """The configuration the ``portal`` fixture builds its app from (without a backend)."""
    return PortalConfig(
        database_url=database_url,
        secret_key="test-secret-key-0123456789abcdef",
        secure_cookies=True,
        environment="test",
        clock=Clock(time.time()),
    )


@pytest.fixture
def portal(portal_config: PortalConfig, seeded_cloud, request: pytest.FixtureRequest) -> Portal:
    """The portal on a fresh database (``sqlite`` or ``postgresql``) over a seeded cloud."""
    cloud, uploader = seeded_cloud()
    config = portal_config.with_(backend=cloud.settings)
    app = create_app(config)
    database = "sqlite" if config.database_url.startswith("sqlite") else "postgresql"
    made = Portal(app, config, cloud, uploader, database, config.clock)
    yield made
    with app.app_context():
        from portal_flask.extensions import db

        db.engine.dispose()


@pytest.fixture
def client(portal: Portal) -> FlaskClient:
    return portal.client()


@pytest.fixture
def make_account(portal: Portal):
    """``make_account(role="site_admin", site_id="site-a", user_name=None, ...)``."""
    return portal.account


@pytest.fixture
def sign_in():
    """``sign_in(client, account)``: signs in through the form; returns the response."""
    return _sign_in


@dataclass
class LiveServer:
    url: str
    portal: Portal


@pytest.fixture
def live_portal(portal: Portal) -> Iterator[LiveServer]:
    """The portal served over HTTP on a free loopback port (cookies without Secure there)."""
    from waitress.server import create_server

    app = create_app(portal.config.with_(secure_cookies=False, tasks_poll_seconds=0.5))
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.socket.getsockname()[1]}"
    yield LiveServer(url, portal)
    server.close()
    thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator:
    """A headless Chromium driven by Selenium, with a fresh profile."""
    from tests.helpers.browser import BrowserUnavailable, start_chromium

    try:
        driver = start_chromium(tmp_path / "chromium-profile")
    except BrowserUnavailable as missing:
        unavailable(str(missing))
    yield driver
    driver.quit()
