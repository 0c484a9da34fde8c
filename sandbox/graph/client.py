"""`GraphControl`: an async client of the Graph emulator's control routes, for tests and the demo."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import quote

import aiohttp

from sandbox.graph.control import PREFIX

__all__ = ["GraphControl", "GraphControlError"]


def _q(value: str) -> str:
    """Ids are opaque and may carry `=`: percent-encoded in paths, as a client must."""
    return quote(value, safe="@")


class GraphControl:
    """A small async client of the control routes, for tests and the demo."""

    def __init__(self, origin: str, ssl_context: ssl.SSLContext | bool | None = None) -> None:
        self.base = origin.rstrip("/") + PREFIX
        self.ssl = ssl_context
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> GraphControl:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def _call(self, method: str, path: str, body: Any = None) -> Any:  # the JSON answer
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession()
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        if self.ssl is not None:
            kwargs["ssl"] = self.ssl
        async with self.session.request(method, self.base + path, **kwargs) as response:
            if response.status == 204:
                return None
            payload = await response.json()
            if response.status >= 400:
                raise GraphControlError(response.status, payload)
            return payload

    async def _object(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call(method, path, body)
        return answer

    async def world(self) -> dict[str, Any]:
        return await self._object("GET", "/world")

    async def add_mailbox(
        self, address: str, display_name: str | None = None, time_zone: str | None = None
    ) -> dict[str, Any]:
        """Add a mailbox (or, when it exists, set its zone: `time_zone` as Outlook stores it)."""
        body = {"address": address, "displayName": display_name, "timeZone": time_zone}
        return await self._object("POST", "/mailboxes", body)

    async def add_users(self, count: int, *, prefix: str = "user", start: int = 0) -> dict[str, Any]:
        """`count` mailboxes `{prefix}{n:05d}@example.com`."""
        return await self._object("POST", "/users:bulk", {"count": count, "prefix": prefix, "start": start})

    async def quota(self, **changes: Any) -> dict[str, Any]:
        """The per-mailbox limits and the peaks reached; `changes` (`mailboxRequests=...`,
        `mailboxConcurrency=...`, `peaks=None`) set them first."""
        if changes:
            return await self._object("PUT", "/quota", changes)
        return await self._object("GET", "/quota")

    async def add_calendar(self, user: str, name: str) -> dict[str, Any]:
        return await self._object("POST", f"/mailboxes/{user}/calendars", {"name": name})

    async def set_app(
        self, *, client_secrets: list[str] | None = None, token_lifetime_seconds: int | None = None
    ) -> dict[str, Any]:
        """Edit the app registration: its valid client secrets, the lifetime of new tokens."""
        body: dict[str, Any] = {}
        if client_secrets is not None:
            body["clientSecrets"] = client_secrets
        if token_lifetime_seconds is not None:
            body["tokenLifetimeSeconds"] = token_lifetime_seconds
        return await self._object("PUT", "/app", body)

    async def set_access(self, allowed: list[str] | None) -> None:
        await self._call("PUT", "/access", {"allowed": allowed})

    async def calendar_state(self, user: str, calendar: str = "default") -> dict[str, Any]:
        return await self._object("GET", f"/mailboxes/{user}/calendars/{_q(calendar)}/state")

    async def create_event(
        self, user: str, event: dict[str, Any], calendar: str = "default"
    ) -> dict[str, Any]:
        return await self._object("POST", f"/mailboxes/{user}/calendars/{_q(calendar)}/events", event)

    async def update_event(self, user: str, event_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return await self._object("PATCH", f"/mailboxes/{user}/events/{_q(event_id)}", changes)

    async def delete_event(self, user: str, event_id: str) -> None:
        await self._call("DELETE", f"/mailboxes/{user}/events/{_q(event_id)}")

    async def move_event(self, user: str, event_id: str, calendar_id: str) -> dict[str, Any]:
        return await self._object(
            "POST", f"/mailboxes/{user}/events/{_q(event_id)}/move", {"calendarId": calendar_id}
        )

    async def respond(self, user: str, event_id: str, response: str) -> None:
        await self._call("POST", f"/mailboxes/{user}/events/{_q(event_id)}/respond", {"response": response})

    def _occurrence(self, user: str, series_id: str, original: str) -> str:
        return f"/mailboxes/{user}/events/{_q(series_id)}/occurrences/{_q(original)}"

    async def occurrence(self, user: str, series_id: str, original: str) -> dict[str, Any]:
        """A series' occurrence by its original start ("2026-11-30T08:00:00Z", or the date of an
        all-day one): with its immutable `id` and default-format `restId`."""
        return await self._object("GET", self._occurrence(user, series_id, original))

    async def update_occurrence(
        self, user: str, series_id: str, original: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """A person edits one occurrence, found by its original start, as Outlook shows it."""
        return await self._object("PATCH", self._occurrence(user, series_id, original), changes)

    async def delete_occurrence(self, user: str, series_id: str, original: str) -> None:
        await self._call("DELETE", self._occurrence(user, series_id, original))

    async def automatic_replies(self, user: str) -> dict[str, Any]:
        return await self._object("GET", f"/mailboxes/{_q(user)}/automatic-replies")

    async def set_automatic_replies(self, user: str, changes: dict[str, Any]) -> dict[str, Any]:
        """As the person would in Outlook: status, scheduled times, messages."""
        return await self._object("PUT", f"/mailboxes/{_q(user)}/automatic-replies", changes)

    async def settings(self) -> dict[str, Any]:
        return await self._object("GET", "/settings")

    async def set_settings(self, **changes: Any) -> dict[str, Any]:
        """`plainHttpLoopbackWebhooks` (a demo's kindness), `updateEchoes`, `createEchoes`,
        `echoDelay` ([low, high])."""
        return await self._object("PUT", "/settings", changes)

    async def subscriptions(self) -> list[dict[str, Any]]:
        subscriptions: list[dict[str, Any]] = (await self._object("GET", "/subscriptions"))["value"]
        return subscriptions

    async def remove_subscription(self, subscription_id: str) -> None:
        await self._call("DELETE", f"/subscriptions/{_q(subscription_id)}")

    async def fire_lifecycle(self, subscription_id: str, event: str) -> None:
        await self._call("POST", f"/subscriptions/{_q(subscription_id)}/lifecycle", {"event": event})

    async def expire_delta(self, mailbox: str | None = None) -> int:
        return int((await self._object("POST", "/delta/expire", {"mailbox": mailbox}))["expired"])


class GraphControlError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
