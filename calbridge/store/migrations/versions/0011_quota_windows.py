"""quota_windows: provider quota counts shared by every process (calbridge.store.quota_windows);
ix_pairs_microsoft_calendar_id: a hint for a Microsoft calendar finds its pairs by index

Revision ID: 0011_quota_windows
Revises: 0010_mirror_oof
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_quota_windows"
down_revision = "0010_mirror_oof"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quota_windows",
        sa.Column("key", sa.String(length=700), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("previous", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_quota_windows")),
    )
    op.create_index("ix_pairs_microsoft_calendar_id", "pairs", ["microsoft_calendar_id"])


def downgrade() -> None:
    op.drop_index("ix_pairs_microsoft_calendar_id", table_name="pairs")
    op.drop_table("quota_windows")
