"""Which failures belong to one event, so a pass can go on without it (pure).

A recurrence the other side cannot express, a 400 for that one item, a body over the
provider's size, an id taken by somebody else's event: the same event fails the same way on
every attempt, and nothing else about the calendar is wrong. Stopping the pass for it would
freeze the calendar (the cursor never moves and every later pass fails on it again), so the
engine records it against the pair (`calbridge.pairs.event_failures`) and goes on.

Everything else still stops the pass: throttling and transient failures (the pass is tried
again and is idempotent), and permanent failures about the whole pair (access refused, the
calendar gone, the credential refused), which the consumer turns into the pair's state.
"""

from __future__ import annotations

from calbridge.errors import AccessDenied, AlreadyExists, CalendarNotFound, PermanentProviderError
from calbridge.pairs.event_failures import FailedEvent
from calbridge.translate.errors import TranslationError

__all__ = ["failed_event", "is_event_fault", "is_pair_fault", "series_failed"]


def is_pair_fault(error: BaseException) -> bool:
    """A permanent failure about the pair's calendars rather than one event: access refused
    (including a refused credential) or the calendar gone."""
    return isinstance(error, AccessDenied | CalendarNotFound)


def is_event_fault(error: BaseException) -> bool:
    """A permanent failure about the one event being copied."""
    if is_pair_fault(error):
        return False
    return isinstance(error, TranslationError | PermanentProviderError | AlreadyExists)


def failed_event(event_id: str, provider: str, error: BaseException) -> FailedEvent:
    """The record of `error` for the event `event_id`, written to `provider`."""
    detail = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, TranslationError):
        reason = f"cannot be expressed on {provider}: {detail}"
    elif isinstance(error, AlreadyExists):
        reason = f"{provider} has another event under its mirror's id ({detail})"
    else:
        reason = f"{provider} refused it ({detail})"
    return FailedEvent(event_id, provider, type(error).__name__, reason)


def series_failed(event_id: str, series: FailedEvent) -> FailedEvent:
    """An occurrence change that cannot land because its series could not be copied."""
    return FailedEvent(
        event_id, series.provider, series.error, f"its series {series.event_id} could not be copied"
    )
