"""A decorator around a CalendarProvider that counts and times every call.

It implements the same Protocol as what it wraps, so the engine cannot tell them apart and the
adapters stay free of metrics. (The per-mailbox cap on Graph requests lives in the Graph
adapter: `calbridge.providers.limits`, one `MailboxLimits` shared by the whole process.)
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from calbridge.errors import (
    AccessDenied,
    CursorExpired,
    NotFound,
    PermanentProviderError,
    Throttled,
    TransientProviderError,
)
from calbridge.events import Provider
from calbridge.model import Event
from calbridge.providers.base import CalendarAddress, CalendarProvider, ChangePage, Fetched, MirrorStamp
from processor.metrics import PROVIDER_CALL_SECONDS, PROVIDER_CALLS

__all__ = ["InstrumentedProvider", "call_status"]

T = TypeVar("T")


def call_status(error: BaseException | None) -> str:
    """The status label of a provider call that ended with `error` (None: it succeeded)."""
    if error is None:
        return "ok"
    for kind, label in (
        (Throttled, "throttled"),
        (TransientProviderError, "transient"),
        (AccessDenied, "access_denied"),
        (PermanentProviderError, "permanent"),
        (NotFound, "not_found"),
        (CursorExpired, "cursor_expired"),
    ):
        if isinstance(error, kind):
            return label
    return "error"


class InstrumentedProvider:
    """Counts and times each call by provider, operation and status."""

    def __init__(self, inner: CalendarProvider) -> None:
        self.inner = inner
        self.provider: Provider = inner.provider

    async def _call(self, operation: str, calendar: CalendarAddress, call: Callable[[], Awaitable[T]]) -> T:
        error: BaseException | None = None
        started: float | None = time.perf_counter()
        try:
            return await call()
        except StopAsyncIteration:  # the end of a change feed, not a call
            started = None
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            if started is not None:
                elapsed = time.perf_counter() - started
                PROVIDER_CALL_SECONDS.labels(self.provider.value, operation).observe(elapsed)
                PROVIDER_CALLS.labels(self.provider.value, operation, call_status(error)).inc()

    async def check_access(self, calendar: CalendarAddress) -> None:
        await self._call("check_access", calendar, lambda: self.inner.check_access(calendar))

    async def changes(self, calendar: CalendarAddress, cursor: str | None) -> AsyncIterator[ChangePage]:
        pages = self.inner.changes(calendar, cursor).__aiter__()
        while True:
            try:
                page = await self._call("changes", calendar, pages.__anext__)
            except StopAsyncIteration:
                return
            yield page

    async def get(self, calendar: CalendarAddress, event_id: str) -> Fetched | None:
        return await self._call("get", calendar, lambda: self.inner.get(calendar, event_id))

    async def find_mirror(self, calendar: CalendarAddress, stamp: MirrorStamp) -> Fetched | None:
        return await self._call("find_mirror", calendar, lambda: self.inner.find_mirror(calendar, stamp))

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None) -> Fetched:
        return await self._call("create", calendar, lambda: self.inner.create(calendar, event, stamp))

    async def update(
        self, calendar: CalendarAddress, event_id: str, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        return await self._call(
            "update", calendar, lambda: self.inner.update(calendar, event_id, event, stamp)
        )

    async def delete(self, calendar: CalendarAddress, event_id: str) -> None:
        await self._call("delete", calendar, lambda: self.inner.delete(calendar, event_id))
