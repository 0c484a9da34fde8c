"""A pair's life, as a pure transition table.

    pending --activate--> active | error(reason)
    error   --activate--> active | error(reason)      (after the cause is fixed: `pairs resume`,
                                                      or the renewer's periodic recheck)
    active  --fail------> error(reason)               (it cannot be synced: access refused, its
                                                      credential refused, a calendar gone, its
                                                      connection cannot be opened; cleared by
                                                      activate)
    active  --pause-----> paused --resume--> active
    any but removing --remove--> removing              (the renewer finishes the removal)

Only `active` pairs are processed or subscribed (docs/pairs.md, "Health": which states stop
work and which only warn).
"""

from __future__ import annotations

from enum import StrEnum

from calbridge.errors import CalbridgeError

__all__ = ["InvalidTransition", "PairAction", "PairState", "describe_state", "next_state"]


class PairState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    PAUSED = "paused"
    ERROR = "error"
    REMOVING = "removing"


class PairAction(StrEnum):
    ACTIVATE = "activate"
    FAIL = "fail"
    PAUSE = "pause"
    RESUME = "resume"
    REMOVE = "remove"


_TRANSITIONS: dict[tuple[PairState, PairAction], PairState] = {
    (PairState.PENDING, PairAction.ACTIVATE): PairState.ACTIVE,
    (PairState.PENDING, PairAction.FAIL): PairState.ERROR,
    (PairState.ERROR, PairAction.ACTIVATE): PairState.ACTIVE,
    (PairState.ERROR, PairAction.FAIL): PairState.ERROR,
    (PairState.ACTIVE, PairAction.FAIL): PairState.ERROR,
    (PairState.ACTIVE, PairAction.PAUSE): PairState.PAUSED,
    (PairState.PAUSED, PairAction.RESUME): PairState.ACTIVE,
    **{
        (state, PairAction.REMOVE): PairState.REMOVING
        for state in PairState
        if state is not PairState.REMOVING
    },
}


# How messages say a state and an action ("the pair is in error, so it cannot be paused").
_STATE_WORDS = {
    PairState.PENDING: "pending",
    PairState.ACTIVE: "active",
    PairState.PAUSED: "paused",
    PairState.ERROR: "in error",
    PairState.REMOVING: "being removed",
}
_ACTION_WORDS = {
    PairAction.ACTIVATE: "activated",
    PairAction.FAIL: "failed",
    PairAction.PAUSE: "paused",
    PairAction.RESUME: "resumed",
    PairAction.REMOVE: "removed",
}


def describe_state(state: PairState) -> str:
    """The state as a sentence says it: `active`, `in error`, `being removed`."""
    return _STATE_WORDS.get(state, str(state))


class InvalidTransition(CalbridgeError):
    """The pair's current state does not allow this action."""

    def __init__(self, state: PairState, action: PairAction) -> None:
        being = _STATE_WORDS.get(state, str(state))
        done = _ACTION_WORDS.get(action, str(action))
        super().__init__(f"the pair is {being}, so it cannot be {done}")
        self.state = state
        self.action = action


def next_state(state: PairState, action: PairAction) -> PairState:
    try:
        return _TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition(state, action) from None


def allowed_from(action: PairAction) -> tuple[PairState, ...]:
    """The states in which `action` is allowed (used as a guard in conditional updates)."""
    return tuple(state for (state, act) in _TRANSITIONS if act is action)
