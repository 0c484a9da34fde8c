"""pairs: remember whether removing a pair should delete its mirrors

Revision ID: 0002_pairs_removal
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_pairs_removal"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pairs") as batch:
        batch.add_column(sa.Column("delete_mirrors", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_index("ix_pairs_state", ["state"])


def downgrade() -> None:
    with op.batch_alter_table("pairs") as batch:
        batch.drop_index("ix_pairs_state")
        batch.drop_column("delete_mirrors")
