"""The store's schema, in SQLAlchemy Core. One code path for SQLite and PostgreSQL.

Vocabulary (docs/architecture.md): a *connection* is calbridge's credential for one tenant of a
provider; a *calendar* row is one watched calendar (its id is the *calendar ref* that travels in
tokens and change events); a *pair* joins a Google calendar and a Microsoft calendar; a *link*
joins the two copies of one event within a pair; a *cursor* is a calendar's sync position; a
*subscription* is a Google channel, Graph subscription or EWS streaming subscription.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "UTCDateTime",
    "calendars",
    "connections",
    "cursors",
    "dead_letters",
    "event_failures",
    "links",
    "metadata",
    "pairs",
    "quota_windows",
    "subscription_leases",
    "subscriptions",
]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=NAMING)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on both engines (SQLite would hand back naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _created() -> sa.Column[datetime]:
    return sa.Column("created_at", UTCDateTime(), nullable=False, default=lambda: datetime.now(UTC))


def _updated() -> sa.Column[datetime]:
    now = lambda: datetime.now(UTC)  # noqa: E731
    return sa.Column("updated_at", UTCDateTime(), nullable=False, default=now, onupdate=now)


connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(16), nullable=False),  # google | graph | ews
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("settings", sa.JSON, nullable=False, default=dict),  # non-secret: tenant, client id, urls
    sa.Column("secret", sa.LargeBinary, nullable=True),  # Fernet ciphertext, never plain text
    _created(),
    _updated(),
)

calendars = sa.Table(
    "calendars",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # the calendar ref
    sa.Column("connection_id", sa.String(64), sa.ForeignKey("connections.id"), nullable=False),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("owner", sa.String(320), nullable=False),  # user or mailbox address
    sa.Column("calendar", sa.String(512), nullable=False),  # provider calendar id, "primary" by default
    _created(),
    sa.UniqueConstraint("connection_id", "owner", "calendar"),
)

pairs = sa.Table(
    "pairs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("google_calendar_id", sa.String(64), sa.ForeignKey("calendars.id"), nullable=False),
    sa.Column("microsoft_calendar_id", sa.String(64), sa.ForeignKey("calendars.id"), nullable=False),
    # both | google-to-microsoft | microsoft-to-google
    sa.Column("direction", sa.String(24), nullable=False, default="both"),
    sa.Column("detail", sa.String(8), nullable=False, default="full"),  # full | busy
    sa.Column("conflict_policy", sa.String(16), nullable=False, default="newest"),  # newest|google|microsoft
    # Make the meetings a keyword in a location asks for (`pairs add --meeting-links`; docs/hybrid.md).
    sa.Column("meeting_links", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    # Mirror Google working locations as free all-day markers (`--working-locations`); else skipped.
    sa.Column("working_locations", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    # pending -> active; paused (operator or circuit breaker); error (access failed); removing
    sa.Column("state", sa.String(16), nullable=False, default="pending"),
    sa.Column("state_reason", sa.Text, nullable=True),
    sa.Column("last_sync_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    # Set by `pairs remove --delete-mirrors`: the mirrors go before the pair does.
    sa.Column("delete_mirrors", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    # A pair in error is checked again from then on (the renewer claims it by moving this on).
    sa.Column("recheck_at", UTCDateTime(), nullable=True),
    # `pairs add --mirror-oof`: out-of-office state is mirrored between the pair's two people;
    # `oof_mirror` is what was last mirrored (calbridge.meetings.oof_mirror.OofRecord as JSON).
    sa.Column("mirror_oof", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("oof_mirror", sa.JSON, nullable=True),
    _created(),
    _updated(),
    sa.UniqueConstraint("google_calendar_id", "microsoft_calendar_id"),
    sa.Index("ix_pairs_state", "state"),
    # Every hint looks its calendar up on either side: the unique constraint's index serves the
    # Google side only, and without this the Microsoft side read the whole index per hint.
    sa.Index("ix_pairs_microsoft_calendar_id", "microsoft_calendar_id"),
)

cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("calendar_id", sa.String(64), sa.ForeignKey("calendars.id"), primary_key=True),
    sa.Column("cursor", sa.Text, nullable=True),  # syncToken / deltaLink / SyncFolderItems state
    sa.Column("full_sync_at", UTCDateTime(), nullable=True),
    # When the read that produced `cursor` began: links saved since then may name events the
    # feed from `cursor` nets away (made and deleted after it), so a pass checks them.
    sa.Column("read_at", UTCDateTime(), nullable=True),
    _updated(),
)

links = sa.Table(
    "links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pair_id", sa.String(64), sa.ForeignKey("pairs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("origin", sa.String(16), nullable=False),  # google | microsoft: where the event was made
    sa.Column("google_event_id", sa.String(1024), nullable=True),
    sa.Column("microsoft_event_id", sa.String(1024), nullable=True),
    # What we last saw or wrote on each side, for echo suppression and change detection.
    sa.Column("google_version", sa.String(256), nullable=True),
    sa.Column("microsoft_version", sa.String(256), nullable=True),
    sa.Column("google_hash", sa.String(64), nullable=True),
    sa.Column("microsoft_hash", sa.String(64), nullable=True),
    # The hash a write about to be made replaced: until the write is confirmed, the target may
    # still hold that content, and reading it is an echo (docs/sync-rules.md, idempotent apply).
    sa.Column("google_prior_hash", sa.String(64), nullable=True),
    sa.Column("microsoft_prior_hash", sa.String(64), nullable=True),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    _updated(),
    sa.UniqueConstraint("pair_id", "google_event_id"),
    sa.UniqueConstraint("pair_id", "microsoft_event_id"),
    sa.Index("ix_links_pair_id_updated_at", "pair_id", "updated_at"),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),  # our id: Google channel id, or a generated one
    sa.Column("calendar_id", sa.String(64), sa.ForeignKey("calendars.id"), nullable=False),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("provider_id", sa.String(512), nullable=True),  # Graph subscription id, Google resourceId
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("state", sa.String(16), nullable=False, default="active"),  # active|renewing|failed|stopped
    sa.Column("renew_at", UTCDateTime(), nullable=True),  # when the renewer should act next
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("key_id", sa.String(8), nullable=True),  # signing key that made its token/clientState
    # When its token/clientState expires: a Graph PATCH cannot change clientState (renewer).
    sa.Column("token_expires_at", UTCDateTime(), nullable=True),
    sa.Column("resync_at", UTCDateTime(), nullable=True),  # next periodic reconciliation hint
    sa.Column("lease_until", UTCDateTime(), nullable=True),  # claimed by a renewer until then
    _created(),
    _updated(),
    sa.Index(None, "renew_at"),
    sa.Index(None, "calendar_id"),
    sa.Index(None, "resync_at"),
)

# Which process holds a subscription's stream (EWS streaming: one listener per subscription
# across receiver replicas). A claim is a compare-and-set on (holder, expires_at); the holder
# renews it while streaming and clears it on stop; an expired lease is anyone's to take.
subscription_leases = sa.Table(
    "subscription_leases",
    metadata,
    sa.Column(
        "subscription_id",
        sa.String(128),
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("holder", sa.String(128), nullable=True),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("claims", sa.Integer, nullable=False, default=0),  # times taken over: a fencing number
    sa.Index(None, "expires_at"),
)

# Events of a pair that could not be copied (an unsupported recurrence, a 400 for that item): the
# pass went on without them. One row per source event, cleared when it is copied at last.
event_failures = sa.Table(
    "event_failures",
    metadata,
    sa.Column("pair_id", sa.String(64), sa.ForeignKey("pairs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("side", sa.String(16), primary_key=True),  # google | microsoft: where the event was read
    sa.Column("event_id", sa.String(1024), primary_key=True),  # its id on that side
    sa.Column("provider", sa.String(16), nullable=False),  # the provider that could not take it
    sa.Column("error", sa.String(64), nullable=False),  # the error's class, e.g. UnsupportedRecurrence
    sa.Column("reason", sa.Text, nullable=False),  # one readable line, no event content
    sa.Column("first_seen_at", UTCDateTime(), nullable=False),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=1),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # the change event id
    sa.Column("queue", sa.String(64), nullable=False),
    sa.Column("calendar_id", sa.String(64), nullable=True),
    sa.Column("pair_id", sa.String(64), nullable=True),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("body", sa.LargeBinary, nullable=False),  # the envelope: references only, no content
    sa.Column("first_failed_at", UTCDateTime(), nullable=False),
    sa.Column("last_failed_at", UTCDateTime(), nullable=False),
    sa.Column("replayed_at", UTCDateTime(), nullable=True),  # the latest replay
    # waiting (never replayed) | replayed | failed (dead-lettered again after a replay)
    sa.Column("state", sa.String(16), nullable=False, default="waiting", server_default="waiting"),
    sa.Column("replays", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Index(None, "calendar_id"),
)

quota_windows = sa.Table(
    "quota_windows",
    metadata,
    # provider/scope/owner[/mailbox]: one provider quota's count, shared by every process
    sa.Column("key", sa.String(700), primary_key=True),
    sa.Column("window_start", sa.BigInteger, nullable=False),  # seconds since the epoch
    sa.Column("used", sa.BigInteger, nullable=False, default=0),  # granted in this window
    sa.Column("previous", sa.BigInteger, nullable=False, default=0),  # granted in the one before
)
