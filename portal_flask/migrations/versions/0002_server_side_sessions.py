"""Server-side sessions, password reset links and sign-in failures; the lockout columns go.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

Every session signed in before this revision is ended: their cookies named an
account id, and now only a session token opens the portal.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("account.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("remember", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.String(255), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
    )
    op.create_index("ix_account_session_account_id", "account_session", ["account_id"])
    op.create_table(
        "password_reset",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("account.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_password_reset_account_id", "password_reset", ["account_id"])
    op.create_table(
        "sign_in_failure",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("email_digest", sa.String(64), nullable=False),
    )
    op.create_index("ix_sign_in_failure_at", "sign_in_failure", ["at"])
    op.create_index("ix_sign_in_failure_address", "sign_in_failure", ["address"])
    with op.batch_alter_table("account") as account:
        account.drop_column("failed_logins")
        account.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("account") as account:
        account.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        account.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.drop_table("sign_in_failure")
    op.drop_table("password_reset")
    op.drop_table("account_session")
