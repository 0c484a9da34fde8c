"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "connections",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("name", name=op.f("uq_connections_name")),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("calendar_id", sa.String(length=64), nullable=True),
        sa.Column("pair_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letters_calendar_id"), ["calendar_id"], unique=False)

    op.create_table(
        "calendars",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=320), nullable=False),
        sa.Column("calendar", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_calendars_connection_id_connections")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendars")),
        sa.UniqueConstraint(
            "connection_id", "owner", "calendar", name=op.f("uq_calendars_connection_id_owner_calendar")
        ),
    )
    op.create_table(
        "cursors",
        sa.Column("calendar_id", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("full_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"], ["calendars.id"], name=op.f("fk_cursors_calendar_id_calendars")
        ),
        sa.PrimaryKeyConstraint("calendar_id", name=op.f("pk_cursors")),
    )
    op.create_table(
        "pairs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("google_calendar_id", sa.String(length=64), nullable=False),
        sa.Column("microsoft_calendar_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=24), nullable=False),
        sa.Column("detail", sa.String(length=8), nullable=False),
        sa.Column("conflict_policy", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["google_calendar_id"], ["calendars.id"], name=op.f("fk_pairs_google_calendar_id_calendars")
        ),
        sa.ForeignKeyConstraint(
            ["microsoft_calendar_id"], ["calendars.id"], name=op.f("fk_pairs_microsoft_calendar_id_calendars")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairs")),
        sa.UniqueConstraint(
            "google_calendar_id",
            "microsoft_calendar_id",
            name=op.f("uq_pairs_google_calendar_id_microsoft_calendar_id"),
        ),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("calendar_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=512), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("renew_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("key_id", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"], ["calendars.id"], name=op.f("fk_subscriptions_calendar_id_calendars")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriptions_calendar_id"), ["calendar_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscriptions_renew_at"), ["renew_at"], unique=False)

    op.create_table(
        "links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pair_id", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("google_event_id", sa.String(length=1024), nullable=True),
        sa.Column("microsoft_event_id", sa.String(length=1024), nullable=True),
        sa.Column("google_version", sa.String(length=256), nullable=True),
        sa.Column("microsoft_version", sa.String(length=256), nullable=True),
        sa.Column("google_hash", sa.String(length=64), nullable=True),
        sa.Column("microsoft_hash", sa.String(length=64), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pair_id"], ["pairs.id"], name=op.f("fk_links_pair_id_pairs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
        sa.UniqueConstraint("pair_id", "google_event_id", name=op.f("uq_links_pair_id_google_event_id")),
        sa.UniqueConstraint(
            "pair_id", "microsoft_event_id", name=op.f("uq_links_pair_id_microsoft_event_id")
        ),
    )


def downgrade() -> None:

    op.drop_table("links")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_renew_at"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_calendar_id"))

    op.drop_table("subscriptions")
    op.drop_table("pairs")
    op.drop_table("cursors")
    op.drop_table("calendars")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letters_calendar_id"))

    op.drop_table("dead_letters")
    op.drop_table("connections")
