"""Which calendars must be watched, and how the subscription rows differ from that (pure).

Only a calendar that is the *source* of an active pair needs a subscription: a one-way pair
never reads its target. A calendar in several pairs is watched once. A calendar that nothing
needs any more (its pair was removed, paused or failed) has its subscriptions stopped; so has
a surplus copy (two live rows for one calendar, left by a crash between create and stop).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from calbridge.providers.registry import profile_for
from subscriptions.schedule import RowState, SubscriptionRow

__all__ = ["PairView", "ReconcilePlan", "plan_reconcile", "removals_ready", "source_calendars"]

ACTIVE = "active"
REMOVING = "removing"
BOTH = "both"
GOOGLE_TO_MICROSOFT = "google-to-microsoft"
MICROSOFT_TO_GOOGLE = "microsoft-to-google"


@dataclass(frozen=True, slots=True)
class PairView:
    id: str
    google_calendar_id: str
    microsoft_calendar_id: str
    direction: str
    state: str
    delete_mirrors: bool = False


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    create: tuple[str, ...]  # calendar ids that need a (placeholder) subscription row
    stop: tuple[str, ...]  # row ids to stop: calendar no longer wanted, or a surplus copy
    wanted: frozenset[str]  # calendar ids that are watched


def source_calendars(pairs: Iterable[PairView]) -> frozenset[str]:
    """Calendar ids that some active pair reads from."""
    wanted: set[str] = set()
    for pair in pairs:
        if pair.state != ACTIVE:
            continue
        if pair.direction in (BOTH, GOOGLE_TO_MICROSOFT):
            wanted.add(pair.google_calendar_id)
        if pair.direction in (BOTH, MICROSOFT_TO_GOOGLE):
            wanted.add(pair.microsoft_calendar_id)
    return frozenset(wanted)


def plan_reconcile(
    pairs: Iterable[PairView],
    rows: Sequence[SubscriptionRow],
    watchable: Mapping[str, bool],
) -> ReconcilePlan:
    """Compare what is wanted with the rows.

    `watchable`: calendar id -> whether the renewer keeps its subscription (False for EWS
    calendars, whose streaming subscriptions the EWS listener keeps).
    """
    wanted = frozenset(c for c in source_calendars(pairs) if watchable.get(c, False))
    by_calendar: dict[str, list[SubscriptionRow]] = {}
    for row in rows:
        if not profile_for(row.provider).kept_by_renewer:
            continue  # streaming subscriptions: the EWS listener keeps, replaces and retires them
        if row.state != RowState.STOPPING:
            by_calendar.setdefault(row.calendar_id, []).append(row)
    stop: list[str] = []
    for calendar_id, kept in by_calendar.items():
        if calendar_id not in wanted:
            stop.extend(r.id for r in kept)
            continue
        # Keep the copy that lasts longest; the others are surplus.
        kept.sort(key=_lasting, reverse=True)
        stop.extend(r.id for r in kept[1:])
    create = sorted(c for c in wanted if c not in by_calendar)
    return ReconcilePlan(create=tuple(create), stop=tuple(sorted(stop)), wanted=wanted)


def _lasting(row: SubscriptionRow) -> tuple[bool, float]:
    live = row.provider_id is not None and row.state != RowState.REMOVED
    return (live, row.expires_at.timestamp() if row.expires_at else 0.0)


def removals_ready(pairs: Iterable[PairView], rows: Sequence[SubscriptionRow]) -> tuple[str, ...]:
    """Removing pairs whose own subscriptions are all gone: their mirrors may be deleted (when
    asked) and then `finish_removal` may delete them.

    A calendar another active pair still reads keeps its subscription and does not hold the
    removal up.
    """
    pairs = list(pairs)
    still_wanted = source_calendars(pairs)
    subscribed = {row.calendar_id for row in rows}
    ready = []
    for pair in pairs:
        if pair.state != REMOVING:
            continue
        own = {pair.google_calendar_id, pair.microsoft_calendar_id} - still_wanted
        if not own & subscribed:
            ready.append(pair.id)
    return tuple(sorted(ready))
