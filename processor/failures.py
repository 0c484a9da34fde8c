"""What becomes of a hint whose pass failed: a pure mapping from the error to the message's fate.

The consumer asks `decide(error)` and carries the answer out:

- throttled: `BackOff` after the provider's wait (the provider calls already waited in the
  process up to `CALBRIDGE_THROTTLE_PATIENCE`); it uses up no attempt of the retry schedule,
  only the time of `CALBRIDGE_THROTTLE_LIMIT`;
- access refused, a refused credential or the calendar gone (`isolation.is_pair_fault`):
  `CheckPair`, the pair's own problem, which the consumer confirms with an access check and
  records as the pair's state (`error`, with a reason naming the remedy) instead of
  dead-lettering hint after hint;
- a pair whose connection cannot be opened (its secret does not decrypt with this key):
  `FailPair`, set to `error` with the reason and the message acknowledged: no retry can succeed
  before someone re-enters the connection, and once that happens the renewer brings the pair
  back with a full catch-up. (A process whose key opens no connection at all is misconfigured,
  `SecretKeyMismatch`: that is retried, and no pair is blamed.);
- a pair the breaker stopped: `PausePair`, paused in the store and the message acknowledged
  (retrying would only trip the breaker again until an operator confirms);
- other permanent failures: `Reject`, the dead-letter queue at once (the failures of single
  events never get here: the engine leaves those events out and records them on the pair);
- anything else: the bus's retry schedule (delay queues, then the dead-letter queue).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from calbridge.bus.base import BackOff, Reject, RetryLater
from calbridge.errors import (
    ConnectionUnusable,
    MalformedMessage,
    PairPaused,
    PermanentProviderError,
    Throttled,
)
from calbridge.translate.errors import TranslationError
from processor.sync.isolation import is_pair_fault

__all__ = [
    "CheckPair",
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
class CheckPair:
    """A permanent failure about the pair (access, credential, calendar gone): confirm it with an
    access check and put the pair in `error`; `reason` is the dead-letter reason if it cannot be
    confirmed."""

    reason: str


@dataclass(frozen=True, slots=True)
class FailPair:
    reason: str  # names the connection and the remedy


# The bus's own outcomes, so one verdict travels from this decision to the broker unchanged.
Fate = RetryLater | Reject | PausePair | CheckPair | FailPair


def decide(error: BaseException, reason: str) -> Fate:
    """The fate of a hint whose pass raised `error`; `reason` is what the bus records."""
    if isinstance(error, PairPaused):
        return PausePair(error.reason)
    if isinstance(error, ConnectionUnusable):
        return FailPair(error.reason)
    if isinstance(error, Throttled):
        return BackOff(reason, max(0.0, error.retry_after))
    if is_pair_fault(error):
        return CheckPair(reason)
    if isinstance(error, PermanentProviderError | MalformedMessage | TranslationError):
        # Deterministic: the same pass fails the same way every time, so the DLQ shows it now
        # instead of in 40 minutes. (One event's failure is left out by the engine instead.)
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
