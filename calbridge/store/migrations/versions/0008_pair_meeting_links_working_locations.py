"""pairs.meeting_links, pairs.working_locations: a pair makes the meetings a keyword in a location
asks for; a pair mirrors Google working locations as free all-day markers (both off by default)

Revision ID: 0008_pair_meeting_links
Revises: 0007_event_failures
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_pair_meeting_links"
down_revision = "0007_event_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pairs") as batch:
        batch.add_column(sa.Column("meeting_links", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(
            sa.Column("working_locations", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("pairs") as batch:
        batch.drop_column("working_locations")
        batch.drop_column("meeting_links")
