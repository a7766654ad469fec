"""The Alembic migrations create exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from portal_flask import models  # noqa: F401  (registers the tables)
from portal_flask.extensions import db
from portal_flask.migrate import upgrade


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
