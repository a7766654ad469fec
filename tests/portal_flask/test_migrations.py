"""The Alembic migrations create exactly the schema the models describe, and upgrade
an existing database without losing its accounts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from portal_flask import create_app, models  # noqa: F401  (registers the tables)
from portal_flask.config import PortalConfig
from portal_flask.extensions import db
from portal_flask.migrate import upgrade
from portal_flask.models import Account
from portal_flask.passwords import hash_password
from tests.portal_flask.conftest import DATABASES
from tests.portal_flask.helpers import PASSWORD, TestAccount, sign_in

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_the_migrated_schema_matches_the_models(database_url):
    upgrade(database_url)  # already at head: a second run changes nothing
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
            assert context.get_current_revision() is not None
    finally:
        engine.dispose()
    assert differences == []


@pytest.fixture(params=DATABASES)
def unmigrated_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty database: a SQLite file, or a PostgreSQL database not made from the template."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'portal.db'}"
        return
    server = request.getfixturevalue("postgres")
    name = f"portal_old_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    yield server.create_database(name)
    server.drop_database(name)


def test_a_database_of_the_first_revision_upgrades_keeping_its_accounts(unmigrated_url, tmp_path):
    upgrade(unmigrated_url, "0001")
    engine = create_engine(unmigrated_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "insert into account (email, password_hash, role, site_id, user_name,"
                    " failed_logins, locked_until, created_at, disabled) values (:email, :hash,"
                    " 'site_admin', 'site-a', null, 3, :now, :now, false)"
                ),
                {"email": "old@site-a.example.org", "hash": hash_password(PASSWORD), "now": NOW},
            )
    finally:
        engine.dispose()
    upgrade(unmigrated_url)
    app = create_app(
        PortalConfig(database_url=unmigrated_url, secret_key="k" * 32, environment="test")
    )
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    with app.app_context():
        account = db.session.scalar(db.select(Account))
        old = TestAccount(account.id, account.email, PASSWORD, "site_admin", "site-a", None)
    assert sign_in(client, old).headers["Location"] == "/tasks/"
    # An administrator from before two-step sign-in sets it up before any other page.
    assert client.get("/auth/account").headers["Location"] == "/auth/two-step"
    assert client.get("/auth/two-step").status_code == 200
    with app.app_context():
        db.engine.dispose()
