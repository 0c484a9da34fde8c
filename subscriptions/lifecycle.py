"""What a Graph lifecycle notification asks of the renewer (pure).

- `reauthorizationRequired`: renew now (a PATCH renews and reauthorizes); delivery may pause
  until we do.
- `subscriptionRemoved`: Graph deleted the subscription: recreate it and resync the calendar,
  since nothing was delivered in the gap.
- `missed`: some notifications were dropped: resync the calendar.

A lifecycle event for a subscription calbridge no longer has (already replaced) is ignored,
except that a removal or a miss still resyncs its calendar: the event is authentic (the
receiver verified its clientState) and a resync is always safe.
"""

from __future__ import annotations

from enum import StrEnum

from calbridge.events import LifecycleKind

__all__ = ["LifecycleStep", "lifecycle_step"]


class LifecycleStep(StrEnum):
    RENEW = "renew"
    RECREATE = "recreate"
    RESYNC = "resync"
    IGNORE = "ignore"


def lifecycle_step(kind: LifecycleKind, *, known: bool) -> LifecycleStep:
    if kind == LifecycleKind.MISSED:
        return LifecycleStep.RESYNC
    if kind == LifecycleKind.SUBSCRIPTION_REMOVED:
        return LifecycleStep.RECREATE if known else LifecycleStep.RESYNC
    if kind == LifecycleKind.REAUTHORIZATION_REQUIRED and known:
        return LifecycleStep.RENEW
    return LifecycleStep.IGNORE
