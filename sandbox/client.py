"""A small async client of the control API, for tests and the demo.

async with SandboxControl(info.control_url) as control:
    await control.set_fault("google.events.insert", error_rate=1.0, error_status=429, retry_after=2)
    event = await control.google.create_event("alice@example.com", {...})
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp

__all__ = ["ControlError", "GoogleControl", "SandboxControl"]


class ControlError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"control API answered {status}: {body}")
        self.status = status
        self.body = body


class SandboxControl:
    def __init__(self, control_url: str) -> None:
        self.control_url = control_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self.google = GoogleControl(self)

    async def __aenter__(self) -> SandboxControl:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        if self._session is None:
            raise RuntimeError("use `async with SandboxControl(...)`")
        async with self._session.request(method, f"{self.control_url}{path}", json=body) as answer:
            text = await answer.text()
            payload = None
            if text:
                try:
                    payload = await answer.json(content_type=None)
                except ValueError:
                    payload = text
            if answer.status >= 400:
                raise ControlError(answer.status, payload)
            return payload

    # -- faults, clock, counters ----------------------------------------------------------------

    async def set_fault(
        self,
        operation: str,
        *,
        error_rate: float = 0.0,
        error_status: int = 503,
        retry_after: float | None = None,
        reason: str | None = None,
        latency: tuple[float, float] = (0.0, 0.0),
        latency_tail: str = "uniform",
        latency_scale: float = 0.0,
        latency_shape: float = 1.0,
        latency_cap: float = 30.0,
    ) -> Any:
        """A fault rule (`sandbox.faults.OperationFaults`): uniform latency, or a long tail
        (`latency_tail` "lognormal" / "pareto" with scale, shape and cap)."""
        rule = {
            "error_rate": error_rate,
            "error_status": error_status,
            "retry_after": retry_after,
            "reason": reason,
            "latency": list(latency),
            "latency_tail": latency_tail,
            "latency_scale": latency_scale,
            "latency_shape": latency_shape,
            "latency_cap": latency_cap,
        }
        return await self.call("PUT", f"/faults/operations/{quote(operation, safe='')}", rule)

    async def clear_fault(self, operation: str) -> Any:
        return await self.call("DELETE", f"/faults/operations/{quote(operation, safe='')}")

    async def set_notification_faults(
        self,
        provider: str,
        *,
        drop_rate: float = 0.0,
        duplicate_rate: float = 0.0,
        reorder: bool = False,
        delay: tuple[float, float] = (0.0, 0.0),
    ) -> Any:
        rule = {
            "drop_rate": drop_rate,
            "duplicate_rate": duplicate_rate,
            "reorder": reorder,
            "delay": list(delay),
        }
        return await self.call("PUT", f"/faults/notifications/{provider}", rule)

    async def advance_clock(self, seconds: float) -> Any:
        return await self.call("POST", "/clock", {"advance_seconds": seconds})

    async def skew_clock(self, seconds: float) -> Any:
        return await self.call("POST", "/clock", {"skew_seconds": seconds})

    async def counters(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", "/counters")
        return result

    async def reset(self) -> None:
        await self.call("POST", "/reset")


class GoogleControl:
    """Act as a person in a Google calendar; read a calendar's whole state."""

    def __init__(self, control: SandboxControl) -> None:
        self._control = control

    def _events(self, calendar_id: str) -> str:
        return f"/google/calendars/{quote(calendar_id, safe='')}/events"

    async def calendar(self, calendar_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._control.call(
            "GET", f"/google/calendars/{quote(calendar_id, safe='')}"
        )
        return result

    async def add_calendar(
        self, calendar_id: str, owner: str, summary: str | None = None, time_zone: str = "UTC"
    ) -> dict[str, Any]:
        """A secondary calendar owned by `owner` (who can share it on)."""
        result: dict[str, Any] = await self._control.call(
            "POST",
            "/google/calendars",
            {"id": calendar_id, "owner": owner, "summary": summary, "timeZone": time_zone},
        )
        return result

    async def create_event(
        self, calendar_id: str, event: dict[str, Any], actor: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._control.call(
            "POST", self._events(calendar_id), {"event": event, "actor": actor}
        )
        return result

    async def edit_event(
        self, calendar_id: str, event_id: str, changes: dict[str, Any], actor: str | None = None
    ) -> dict[str, Any]:
        path = f"{self._events(calendar_id)}/{quote(event_id, safe='')}"
        result: dict[str, Any] = await self._control.call("PATCH", path, {"changes": changes, "actor": actor})
        return result

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        await self._control.call("DELETE", f"{self._events(calendar_id)}/{quote(event_id, safe='')}")

    async def move_event(self, calendar_id: str, event_id: str, destination: str) -> dict[str, Any]:
        path = f"{self._events(calendar_id)}/{quote(event_id, safe='')}/move"
        result: dict[str, Any] = await self._control.call("POST", path, {"destination": destination})
        return result

    async def respond(self, calendar_id: str, event_id: str, attendee: str, response: str) -> dict[str, Any]:
        path = f"{self._events(calendar_id)}/{quote(event_id, safe='')}/respond"
        result: dict[str, Any] = await self._control.call(
            "POST", path, {"attendee": attendee, "responseStatus": response}
        )
        return result

    async def expire_sync_tokens(self, calendar_id: str) -> None:
        await self._control.call(
            "POST", f"/google/calendars/{quote(calendar_id, safe='')}/expire-sync-tokens"
        )

    async def set_guest_copies(self, enabled: bool) -> None:
        await self._control.call("PUT", "/google/settings", {"guestCopies": enabled})

    async def set_meet_pending(self, pending: bool) -> None:
        """A Meet's createRequest answers `pending` and completes at the calendar's next API call."""
        await self._control.call("PUT", "/google/settings", {"meetPending": pending})

    async def set_user_quota(self, per_minute: int | None) -> None:
        """Calls per user per sliding minute before 403 userRateLimitExceeded (None: unlimited)."""
        await self._control.call("PUT", "/google/settings", {"userQuotaPerMinute": per_minute})

    async def quota(self, **changes: Any) -> dict[str, Any]:
        """The request quotas and the peaks reached; `changes` (e.g. `projectPerMinute=10_000`,
        `peaks=None`) set them first."""
        method = "PUT" if changes else "GET"
        result: dict[str, Any] = await self._control.call(method, "/google/quota", changes or None)
        return result

    async def add_users(self, count: int, *, prefix: str = "user", start: int = 0) -> dict[str, Any]:
        """`count` people `{prefix}{n:05d}@example.com`, each with a primary calendar."""
        body = {"count": count, "prefix": prefix, "start": start}
        result: dict[str, Any] = await self._control.call("POST", "/google/users:bulk", body)
        return result

    async def channels(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._control.call("GET", "/google/channels")
        return result
