"""A pair's life, as a pure transition table.

    pending --activate--> active | error(reason)
    error   --activate--> active | error(reason)      (after the cause is fixed)
    active  --pause-----> paused --resume--> active
    any but removing --remove--> removing              (the renewer finishes the removal)

Only `active` pairs are processed or subscribed.
"""

from __future__ import annotations

from enum import StrEnum

from calbridge.errors import CalbridgeError

__all__ = ["Action", "InvalidTransition", "PairState", "next_state"]


class PairState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    PAUSED = "paused"
    ERROR = "error"
    REMOVING = "removing"


class Action(StrEnum):
    ACTIVATE = "activate"
    FAIL = "fail"
    PAUSE = "pause"
    RESUME = "resume"
    REMOVE = "remove"


_TRANSITIONS: dict[tuple[PairState, Action], PairState] = {
    (PairState.PENDING, Action.ACTIVATE): PairState.ACTIVE,
    (PairState.PENDING, Action.FAIL): PairState.ERROR,
    (PairState.ERROR, Action.ACTIVATE): PairState.ACTIVE,
    (PairState.ERROR, Action.FAIL): PairState.ERROR,
    (PairState.ACTIVE, Action.PAUSE): PairState.PAUSED,
    (PairState.PAUSED, Action.RESUME): PairState.ACTIVE,
    **{(state, Action.REMOVE): PairState.REMOVING for state in PairState if state is not PairState.REMOVING},
}


class InvalidTransition(CalbridgeError):
    """The pair's current state does not allow this action."""

    def __init__(self, state: PairState, action: Action) -> None:
        super().__init__(f"a {state} pair cannot {action}")
        self.state = state
        self.action = action


def next_state(state: PairState, action: Action) -> PairState:
    try:
        return _TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition(state, action) from None


def allowed_from(action: Action) -> tuple[PairState, ...]:
    """The states in which `action` is allowed (used as a guard in conditional updates)."""
    return tuple(state for (state, act) in _TRANSITIONS if act is action)
