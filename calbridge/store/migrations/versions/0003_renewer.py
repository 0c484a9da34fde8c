"""subscriptions: token expiry, reconciliation time and renewer lease

Revision ID: 0003_renewer
Revises: 0002_pairs_removal
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_renewer"
down_revision = "0002_pairs_removal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resync_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_subscriptions_resync_at", ["resync_at"])


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_index("ix_subscriptions_resync_at")
        batch.drop_column("lease_until")
        batch.drop_column("resync_at")
        batch.drop_column("token_expires_at")
