"""event_failures: events a pair could not copy; pairs.recheck_at: when a pair in error is checked again

Revision ID: 0007_event_failures
Revises: 0006_dead_letter_history
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_event_failures"
down_revision = "0006_dead_letter_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_failures",
        sa.Column("pair_id", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=1024), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"),
        sa.ForeignKeyConstraint(
            ["pair_id"], ["pairs.id"], name=op.f("fk_event_failures_pair_id_pairs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pair_id", "side", "event_id", name=op.f("pk_event_failures")),
    )
    with op.batch_alter_table("pairs") as batch:
        batch.add_column(sa.Column("recheck_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pairs") as batch:
        batch.drop_column("recheck_at")
    op.drop_table("event_failures")
