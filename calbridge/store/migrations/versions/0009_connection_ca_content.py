"""connections.settings: a CA is stored as its PEM text (`ca_pem`), not as the path of a file

Records saved with a `ca_file` path get the content of that file where this migration can read
it; a record whose file is not here keeps its path, which the services still read while the file
exists (`calbridge.providers.ca.stored_ca`) and which `connections add ... --replace --ca-file`
replaces with the content. No column changes.

Revision ID: 0009_connection_ca_content
Revises: 0008_pair_meeting_links
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from calbridge.errors import ConnectionInvalid
from calbridge.providers.ca import stored_ca

revision = "0009_connection_ca_content"
down_revision = "0008_pair_meeting_links"
branch_labels = None
depends_on = None

_connections = sa.table(
    "connections", sa.column("id", sa.String), sa.column("settings", sa.JSON), sa.column("name", sa.String)
)


def upgrade() -> None:
    bind = op.get_bind()
    for row in bind.execute(sa.select(_connections.c.id, _connections.c.settings)).all():
        settings = dict(row.settings or {})
        if not settings.get("ca_file") or settings.get("ca_pem"):
            continue
        try:
            pem = stored_ca(settings)
        except ConnectionInvalid:
            continue  # the file is not on this machine: the record keeps its path (see above)
        settings.pop("ca_file")
        settings["ca_pem"] = pem
        bind.execute(_connections.update().where(_connections.c.id == row.id).values(settings=settings))


def downgrade() -> None:
    pass  # a record holding the content works for the older code only with a path: not restored
