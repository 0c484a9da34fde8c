"""links.google_prior_hash, links.microsoft_prior_hash: the content a write about to be made
replaced, still ours until the write is confirmed (processor.sync.record.Link.expecting)

Revision ID: 0012_link_prior_hash
Revises: 0011_quota_windows
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_link_prior_hash"
down_revision = "0011_quota_windows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("google_prior_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("microsoft_prior_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("microsoft_prior_hash")
        batch.drop_column("google_prior_hash")
