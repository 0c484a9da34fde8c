"""Telling a pair's own problem from a passing one, and saying what fixes it.

A pass that fails with access refused, a refused credential or the calendar gone names neither
the side nor the remedy (a 403 on a write says nothing about which mailbox, and an invalid
client secret is not a missing permission). So before the pair is put in `error`, both of its
calendars get the same access check that activation runs (`CalendarProvider.check_access`),
and each side that fails is explained as activation explains it
(`calbridge.pairs.access.explain_access_failure`): the reason names the side, the address and
the remedy.

The check decides. Sides refused: the pair goes to `error` with those reasons. Both sides fine:
the failure was about that one call, and the hint follows the bus's retry schedule. The check
itself throttled or failing transiently: undecided, and the hint is retried.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import structlog

from calbridge.errors import NotFound
from calbridge.pairs.access import explain_access_failure
from calbridge.pairs.policy import Side
from calbridge.pairs.spec import CalendarSpec
from calbridge.providers.base import CalendarAddress, CalendarProvider
from calbridge.providers.registry import known_profile
from processor.directory import CalendarRoute, PairRoute
from processor.sync.isolation import is_pair_fault

__all__ = ["PairCheck", "check_pair", "side_label"]

log = structlog.get_logger("calbridge.processor")


@dataclass(frozen=True, slots=True)
class PairCheck:
    refused: tuple[str, ...]  # per side refused: what failed and what to do
    undecided: BaseException | None = None  # the check could not be made (throttled, unavailable)

    @property
    def reason(self) -> str:
        return "; ".join(self.refused)


def side_label(calendar: CalendarRoute) -> str:
    """How activation names a side in a reason ("Microsoft (graph) calendar bob@example.org")."""
    spec = CalendarSpec(calendar.owner, calendar.calendar)
    profile = known_profile(calendar.provider)
    if profile is not None and profile.side is Side.GOOGLE:
        return f"Google calendar {spec}"
    return f"Microsoft ({calendar.provider}) calendar {spec}"


Lease = Callable[[str], AbstractAsyncContextManager[CalendarProvider]]  # `ProviderCache.lease`


async def check_pair(pair: PairRoute, lease: Lease) -> PairCheck:
    """Check access to both calendars of the pair, with providers from `lease` (connection id ->
    the process's provider, held for the check); see the module docstring."""
    refused: list[str] = []
    undecided: BaseException | None = None
    for calendar in (pair.google, pair.microsoft):
        try:
            async with lease(calendar.connection_id) as provider:
                await provider.check_access(CalendarAddress(calendar.owner, calendar.calendar))
        except Exception as exc:
            # A check answers NotFound for a calendar that is not there (the adapters' own
            # look-up of the calendar, not an event): the calendar is gone.
            if is_pair_fault(exc) or isinstance(exc, NotFound):
                refused.append(explain_access_failure(side_label(calendar), exc, calendar.provider))
            else:
                undecided = exc
            log.info("pair_checked", pair=pair.id, provider=calendar.provider, error=type(exc).__name__)
    return PairCheck(tuple(refused), undecided)
