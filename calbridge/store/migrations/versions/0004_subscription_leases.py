"""subscription_leases: which listener holds an EWS streaming subscription

Revision ID: 0004_subscription_leases
Revises: 0003_renewer
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_subscription_leases"
down_revision = "0003_renewer"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscription_leases",
        sa.Column("subscription_id", sa.String(length=128), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claims", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_leases_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_subscription_leases")),
    )
    with op.batch_alter_table("subscription_leases") as batch:
        batch.create_index(batch.f("ix_subscription_leases_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subscription_leases") as batch:
        batch.drop_index(batch.f("ix_subscription_leases_expires_at"))
    op.drop_table("subscription_leases")
