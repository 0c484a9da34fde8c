"""cursors: when the read behind a cursor began; links: found by when they were saved

A change feed nets an event made and deleted after its cursor away (Exchange ICS, Graph delta),
so a pass checks the links saved since its cursor's read began (`docs/sync-rules.md`).

Revision ID: 0005_cursor_read_at
Revises: 0004_subscription_leases
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_cursor_read_at"
down_revision = "0004_subscription_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cursors") as batch:
        batch.add_column(sa.Column("read_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("links") as batch:
        batch.create_index("ix_links_pair_id_updated_at", ["pair_id", "updated_at"])


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_index("ix_links_pair_id_updated_at")
    with op.batch_alter_table("cursors") as batch:
        batch.drop_column("read_at")
