"""The mass-deletion circuit breaker: a pure verdict over one pass's planned actions.

A provider hiccup (an empty or truncated read, a mailbox closed mid-sync) must never turn into
"everything was deleted". Before any delete of a pass is applied, the whole pass is judged here;
a pause stops the pass (nothing applied, cursor not advanced) until a person confirms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from calbridge.settings import Settings
from processor.sync.actions import Delete, Plan

__all__ = [
    "BreakerLimits",
    "BreakerVerdict",
    "Pause",
    "Proceed",
    "judge_deletions",
    "judge_full_read",
    "limits_from",
    "needs_linked_count",
]


@dataclass(frozen=True, slots=True)
class BreakerLimits:
    share: float = 0.5  # pause when a pass deletes more than this share of the pair's linked events
    minimum: int = 10  # ... and at least this many: small deletions never trip the breaker


@dataclass(frozen=True, slots=True)
class Proceed:
    pass


@dataclass(frozen=True, slots=True)
class Pause:
    reason: str


BreakerVerdict = Proceed | Pause


def _deletes(planned: Iterable[Plan]) -> int:
    return sum(1 for action in planned if isinstance(action, Delete))


def needs_linked_count(planned: Iterable[Plan], limits: BreakerLimits) -> bool:
    """Whether `judge_deletions` could pause this pass, so the pair's linked count (a count over
    its links in the store) is worth reading; below `limits.minimum` deletes it never pauses."""
    return _deletes(planned) >= limits.minimum


def judge_deletions(planned: Iterable[Plan], linked: int, limits: BreakerLimits) -> BreakerVerdict:
    """Pause when the pass would delete at least `limits.minimum` events and more than
    `limits.share` of the `linked` events of the pair."""
    deletes = _deletes(planned)
    if deletes < limits.minimum or linked <= 0:
        return Proceed()
    if deletes / linked > limits.share:
        return Pause(
            f"mass deletion: this pass would delete {deletes} of {linked} linked events "
            f"(more than {limits.share:.0%}); confirm to proceed"
        )
    return Proceed()


def judge_full_read(events_read: int, linked: int) -> BreakerVerdict:
    """A full read that returns nothing while the pair has linked events is a failed read until
    a person says otherwise, never "everything is gone"."""
    if events_read == 0 and linked > 0:
        return Pause(f"empty full read while {linked} events are linked; confirm to proceed")
    return Proceed()


def limits_from(settings: Settings) -> BreakerLimits:
    return BreakerLimits(share=settings.mass_delete_share, minimum=settings.mass_delete_min)
