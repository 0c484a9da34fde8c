"""dead_letters: each entry's state and how often it was replayed

Revision ID: 0006_dead_letter_history
Revises: 0005_cursor_read_at
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_dead_letter_history"
down_revision = "0005_cursor_read_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("state", sa.String(length=16), nullable=False, server_default="waiting"))
        batch.add_column(sa.Column("replays", sa.Integer(), nullable=False, server_default="0"))
    # Entries replayed before this revision: one replay known (a failed replay had cleared it).
    op.execute("UPDATE dead_letters SET state = 'replayed', replays = 1 WHERE replayed_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("replays")
        batch.drop_column("state")
