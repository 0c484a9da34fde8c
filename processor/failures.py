"""What becomes of a hint whose pass failed: a pure mapping from the error to the message's fate.

The consumer asks `decide(error)` and carries the answer out: a throttled provider is asked again
after its Retry-After, transient failures follow the bus's retry schedule (delay queues, then the
dead-letter queue), permanent ones go to the dead-letter queue at once, and a pair the breaker
stopped is paused in the store and the message acknowledged: retrying it would only trip the
breaker again until an operator confirms. A pair whose connection cannot be opened (its secret
does not decrypt with this key) is set to `error` with the reason and the message acknowledged:
no retry can succeed before someone re-enters the connection, and once that happens the renewer
brings the pair back with a full catch-up. (A process whose key opens no connection at all is
misconfigured, `SecretKeyMismatch`: that is retried, and no pair is blamed.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from calbridge.bus.base import Reject, RetryLater
from calbridge.errors import (
    ConnectionUnusable,
    MalformedMessage,
    PairPaused,
    PermanentProviderError,
    Throttled,
)
from calbridge.translate.errors import TranslationError

__all__ = [
    "FailPair",
    "Fate",
    "PausePair",
    "decide",
    "pair_in_reason",
    "reason_with_pair",
]


@dataclass(frozen=True, slots=True)
class PausePair:
    reason: str


@dataclass(frozen=True, slots=True)
class FailPair:
    reason: str  # names the connection and the remedy


# The bus's own outcomes, so one verdict travels from this decision to the broker unchanged.
Fate = RetryLater | Reject | PausePair | FailPair


def decide(error: BaseException, reason: str) -> Fate:
    """The fate of a hint whose pass raised `error`; `reason` is what the bus records."""
    if isinstance(error, PairPaused):
        return PausePair(error.reason)
    if isinstance(error, ConnectionUnusable):
        return FailPair(error.reason)
    if isinstance(error, Throttled):
        return RetryLater(reason, max(0.0, error.retry_after))
    if isinstance(error, PermanentProviderError | MalformedMessage | TranslationError):
        # AccessDenied is permanent too. A TranslationError is deterministic: the same event
        # fails the same way on every attempt, so the DLQ shows it now instead of in 40 minutes.
        return Reject(reason)
    # CursorExpired: the engine restarts an expired cursor as a full read; one escaping means the
    # full read itself was refused, which a later attempt may not be. Transient provider errors
    # and unknown errors follow the bus's schedule, which bounds them, then the DLQ shows them.
    return RetryLater(reason)


# The dead-letter reason names the pair, so `calbridge dlq` can show and filter by it.
_PAIR_PREFIX = re.compile(r"^pair=([A-Za-z0-9_.:-]{1,64}) ")


def reason_with_pair(pair_id: str, error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return f"pair={pair_id} " + " ".join(text.split())


def pair_in_reason(reason: str) -> str | None:
    """The pair a dead-letter reason names (see `reason_with_pair`), if any."""
    match = _PAIR_PREFIX.match(reason)
    return match.group(1) if match else None
