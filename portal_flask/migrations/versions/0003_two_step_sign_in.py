"""Two-step sign-in: each account's TOTP key and last accepted step, and recovery codes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

Accounts start without two-step sign-in; an administrator sets it up at their
next sign-in, before any other page opens.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account") as account:
        account.add_column(sa.Column("totp_secret", sa.String(64), nullable=True))
        account.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("account.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_recovery_code_account_id", "recovery_code", ["account_id"])


def downgrade() -> None:
    op.drop_table("recovery_code")
    with op.batch_alter_table("account") as account:
        account.drop_column("totp_last_step")
        account.drop_column("totp_secret")
