"""Helpers for the receiver tests: a test double of calbridge's own Bus Protocol (not an SDK),
fixed keys and clock, token makers and settings."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from calbridge.bus.base import ChangeHandler, Consumer, LifecycleHandler
from calbridge.errors import BusUnavailable
from calbridge.events import ChangeEvent, LifecycleEvent, Provider
from calbridge.settings import Settings, load_settings
from calbridge.tokens import sign_token


class RecordingBus:
    """Confirms by default; `fail` makes publish raise BusUnavailable, `hang` makes it never return.

    `published` holds only what was confirmed, i.e. what the broker would hold.
    """

    def __init__(self) -> None:
        self.published: list[ChangeEvent | LifecycleEvent] = []
        self.attempts = 0
        self.fail = False
        self.hang = False
        self.crash: Exception | None = None
        self.is_ready = True
        self.connects = 0
        self.closes = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate: asyncio.Event | None = None  # when set, publishes wait for it (to observe overlap)
        self.entered: asyncio.Queue[int] = asyncio.Queue()  # one item per publish call, as it starts

    async def connect(self) -> None:
        self.connects += 1

    async def start(self) -> None:
        self.connects += 1

    async def close(self) -> None:
        self.closes += 1

    async def ready(self) -> bool:
        return self.is_ready

    async def publish(self, messages: Sequence[ChangeEvent | LifecycleEvent]) -> None:
        self.attempts += 1
        self.entered.put_nowait(self.attempts)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.crash is not None:
                raise self.crash
            if self.fail:
                raise BusUnavailable("broker refused")
            if self.hang:
                await asyncio.Event().wait()
            if self.gate is not None:
                await self.gate.wait()
            self.published.extend(messages)
        finally:
            self.in_flight -= 1

    async def consume_changes(self, handler: ChangeHandler, shards: Sequence[int] | None = None) -> Consumer:
        raise NotImplementedError("the receiver only publishes")

    async def consume_lifecycle(self, handler: LifecycleHandler) -> Consumer:
        raise NotImplementedError("the receiver only publishes")


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KEYS = {"k2": b"b" * 32, "k1": b"a" * 32}  # k2 signs; k1 is the previous key, still accepted


def fixed_clock() -> datetime:
    return NOW


def google_token(ref: str = "cal_1", channel_id: str = "chan-1", *, keys: dict[str, bytes] = KEYS) -> str:
    return sign_token(Provider.GOOGLE, ref, NOW + timedelta(days=7), keys, channel_id=channel_id)


def graph_state(ref: str = "cal_2", *, keys: dict[str, bytes] = KEYS, expires: datetime | None = None) -> str:
    return sign_token(Provider.GRAPH, ref, expires or NOW + timedelta(days=7), keys)


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "signing_keys": SecretStr(",".join(f"{kid}:{secret.decode()}" for kid, secret in KEYS.items())),
        "ack_budget": 0.5,
        "max_body_bytes": 4096,
    }
    values.update(overrides)
    return load_settings(**values)


def flip_last(token: str) -> str:
    """The token with its last character changed (a tampered MAC)."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")
