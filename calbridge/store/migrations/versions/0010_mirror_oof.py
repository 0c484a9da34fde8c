"""pairs.mirror_oof: mirror out-of-office state between the pair's people; pairs.oof_mirror:
what calbridge last mirrored (origin side, span, the Google event it made or followed)

Revision ID: 0010_mirror_oof
Revises: 0009_connection_ca_content
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_mirror_oof"
down_revision = "0009_connection_ca_content"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pairs") as batch:
        batch.add_column(sa.Column("mirror_oof", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("oof_mirror", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pairs") as batch:
        batch.drop_column("oof_mirror")
        batch.drop_column("mirror_oof")
