"""Control routes under /_control/ews/ (act as a person, inspect, break things) and a small client."""

from __future__ import annotations

import json
import ssl
import urllib.request
from datetime import datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from sandbox.ews import person
from sandbox.ews.oof import update_oof
from sandbox.ews.operations import EwsFault
from sandbox.ews.operations.subscriptions import drop
from sandbox.ews.state import EwsWorld, Mailbox

__all__ = ["CONTROL_PREFIX", "EwsControlClient", "add_routes"]

CONTROL_PREFIX = "/_control/ews"


def add_routes(app: web.Application, world: EwsWorld) -> None:
    def mailbox_of(request: web.Request) -> Mailbox:
        mailbox = world.mailboxes.get(request.match_info["address"].lower())
        if mailbox is None:
            raise web.HTTPNotFound(text="unknown mailbox")
        return mailbox

    async def body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        data = await request.json()
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        return data

    async def add_mailbox(request: web.Request) -> web.Response:
        data = await body(request)
        mailbox = world.add_mailbox(str(data["address"]), data.get("display_name"))
        if data.get("impersonable"):  # an impersonation role scoped to the organisation covers it
            for principal, mailboxes in world.impersonation.items():
                world.allow_impersonation(principal, *mailboxes, mailbox.address)
        return web.json_response({"address": mailbox.address}, status=201)

    async def grant_impersonation(request: web.Request) -> web.Response:
        """An administrator's ApplicationImpersonation grant: `principal` may act as `mailboxes`."""
        data = await body(request)
        mailboxes = [str(a) for a in data.get("mailboxes", [])]
        if "principal" not in data or not mailboxes:
            raise web.HTTPBadRequest(text="expected principal and mailboxes")
        world.allow_impersonation(str(data["principal"]), *mailboxes)
        return web.Response(status=204)

    async def create_item(request: web.Request) -> web.Response:
        item = person.create(world, mailbox_of(request), await body(request))
        return web.json_response(person.describe(item), status=201)

    async def edit_item(request: web.Request) -> web.Response:
        try:
            item = person.edit(world, mailbox_of(request), request.match_info["item_id"], await body(request))
        except person.UnknownItem as exc:
            raise web.HTTPNotFound(text="unknown item") from exc
        return web.json_response(person.describe(item))

    async def move_item(request: web.Request) -> web.Response:
        data = await body(request)
        try:
            item = person.relocate(
                world,
                mailbox_of(request),
                request.match_info["item_id"],
                str(data.get("folder", "deleteditems")),
            )
        except (person.UnknownItem, KeyError) as exc:
            raise web.HTTPNotFound(text="unknown item or folder") from exc
        return web.json_response(person.describe(item))

    async def delete_item(request: web.Request) -> web.Response:
        try:
            person.delete(world, mailbox_of(request), request.match_info["item_id"])
        except person.UnknownItem as exc:
            raise web.HTTPNotFound(text="unknown item") from exc
        return web.Response(status=204)

    async def delete_occurrence(request: web.Request) -> web.Response:
        try:
            index = int(request.match_info["index"])
            item = person.delete_occurrence(world, mailbox_of(request), request.match_info["item_id"], index)
        except (person.UnknownItem, ValueError) as exc:
            raise web.HTTPNotFound(text="unknown series or occurrence") from exc
        return web.json_response(person.describe(item))

    async def calendar(request: web.Request) -> web.Response:
        folder = mailbox_of(request).folders.get(request.match_info.get("folder", "calendar"))
        if folder is None:
            raise web.HTTPNotFound(text="unknown folder")
        return web.json_response({"items": [person.describe(i) for i in folder.items.values()]})

    async def expire_sync_states(request: web.Request) -> web.Response:
        for folder in mailbox_of(request).folders.values():
            folder.sync_epoch += 1
        return web.Response(status=204)

    async def subscriptions(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "subscriptions": [
                    {
                        "id": s.id,
                        "mailbox": s.mailbox,
                        "connections": len(s.waiters),
                        "pending": len(s.pending),
                    }
                    for s in world.subscriptions.values()
                ]
            }
        )

    async def drop_subscription(request: web.Request) -> web.Response:
        if not drop(world.subscriptions, request.match_info["sub_id"]):
            raise web.HTTPNotFound(text="unknown subscription")
        return web.Response(status=204)

    async def cut_streams(request: web.Request) -> web.Response:
        address = request.query.get("mailbox")
        cut = 0
        for sub in world.subscriptions.values():
            if address is None or sub.mailbox == address.lower():
                cut += len(sub.waiters)
                sub.cut += 1
                sub.notify()
        return web.json_response({"cut": cut})

    p = CONTROL_PREFIX

    async def oof(request: web.Request) -> web.Response:
        settings = mailbox_of(request).oof
        return web.json_response(
            {
                "state": settings.state,
                "start": settings.start.isoformat() if settings.start else None,
                "end": settings.end.isoformat() if settings.end else None,
                "internalReply": settings.internal_reply,
            }
        )

    async def set_oof(request: web.Request) -> web.Response:
        """A person turning Outlook's automatic replies on or off."""
        data = await body(request)
        try:
            update_oof(
                mailbox_of(request),
                str(data.get("state", "")),
                start=datetime.fromisoformat(data["start"]) if data.get("start") else None,
                end=datetime.fromisoformat(data["end"]) if data.get("end") else None,
                internal_reply=data.get("internalReply"),
                external_reply=data.get("externalReply"),
            )
        except EwsFault as exc:
            raise web.HTTPBadRequest(text=exc.message) from None
        return await oof(request)

    app.router.add_post(f"{p}/mailboxes", add_mailbox)
    app.router.add_post(f"{p}/impersonation", grant_impersonation)
    app.router.add_get(f"{p}/mailboxes/{{address}}/oof", oof)
    app.router.add_put(f"{p}/mailboxes/{{address}}/oof", set_oof)
    app.router.add_post(f"{p}/mailboxes/{{address}}/items", create_item)
    app.router.add_patch(f"{p}/mailboxes/{{address}}/items/{{item_id}}", edit_item)
    app.router.add_post(f"{p}/mailboxes/{{address}}/items/{{item_id}}/move", move_item)
    app.router.add_delete(f"{p}/mailboxes/{{address}}/items/{{item_id}}", delete_item)
    app.router.add_delete(
        f"{p}/mailboxes/{{address}}/items/{{item_id}}/occurrences/{{index}}", delete_occurrence
    )
    app.router.add_get(f"{p}/mailboxes/{{address}}/folders/{{folder}}", calendar)
    app.router.add_post(f"{p}/mailboxes/{{address}}/sync-states/expire", expire_sync_states)
    app.router.add_get(f"{p}/subscriptions", subscriptions)
    app.router.add_delete(f"{p}/subscriptions/{{sub_id}}", drop_subscription)
    app.router.add_post(f"{p}/streams/cut", cut_streams)


def _q(value: str) -> str:
    """Exchange ids hold `/` and `+`: quote them whole for a path segment."""
    return quote(value, safe="")


class EwsControlClient:
    """Drive the EWS emulator's control routes from tests or the demo (blocking, stdlib only)."""

    def __init__(
        self, base_url: str, timeout: float = 10.0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/") + CONTROL_PREFIX
        self.timeout = timeout
        self.ssl_context = ssl_context

    def _call(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            data=None if data is None else json.dumps(data).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout, context=self.ssl_context) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def add_mailbox(
        self, address: str, display_name: str | None = None, *, impersonable: bool = False
    ) -> None:
        """A new mailbox; `impersonable`: the principals that impersonate mailboxes may do so here too."""
        body = {"address": address, "display_name": display_name, "impersonable": impersonable}
        self._call("POST", "/mailboxes", body)

    def oof(self, mailbox: str) -> dict[str, Any]:
        return self._call("GET", f"/mailboxes/{quote(mailbox)}/oof")  # type: ignore[no-any-return]

    def set_oof(self, mailbox: str, **settings: Any) -> dict[str, Any]:
        """As the person would in Outlook: state (Enabled / Scheduled / Disabled), start, end (ISO)."""
        return self._call("PUT", f"/mailboxes/{quote(mailbox)}/oof", settings)  # type: ignore[no-any-return]

    def allow_impersonation(self, principal: str, *mailboxes: str) -> None:
        """As an administrator: let `principal` (an app's client id or a service account) impersonate."""
        self._call("POST", "/impersonation", {"principal": principal, "mailboxes": list(mailboxes)})

    def create_item(self, mailbox: str, **fields: Any) -> dict[str, Any]:
        """As the mailbox owner: fields subject, start, end, body, location, attendees, is_all_day,
        free_busy, sensitivity, time_zone (Windows id)."""
        return dict(self._call("POST", f"/mailboxes/{mailbox}/items", fields))

    def edit_item(self, mailbox: str, item_id: str, **fields: Any) -> dict[str, Any]:
        return dict(self._call("PATCH", f"/mailboxes/{mailbox}/items/{_q(item_id)}", fields))

    def move_item(self, mailbox: str, item_id: str, folder: str = "deleteditems") -> dict[str, Any]:
        return dict(self._call("POST", f"/mailboxes/{mailbox}/items/{_q(item_id)}/move", {"folder": folder}))

    def delete_item(self, mailbox: str, item_id: str) -> None:
        self._call("DELETE", f"/mailboxes/{mailbox}/items/{_q(item_id)}")

    def delete_occurrence(self, mailbox: str, item_id: str, index: int) -> dict[str, Any]:
        """As the owner: delete the `index`-th occurrence (1-based) of a series."""
        return dict(self._call("DELETE", f"/mailboxes/{mailbox}/items/{_q(item_id)}/occurrences/{index}"))

    def calendar(self, mailbox: str, folder: str = "calendar") -> list[dict[str, Any]]:
        return list(self._call("GET", f"/mailboxes/{mailbox}/folders/{folder}")["items"])

    def expire_sync_states(self, mailbox: str) -> None:
        self._call("POST", f"/mailboxes/{mailbox}/sync-states/expire")

    def subscriptions(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/subscriptions")["subscriptions"])

    def drop_subscription(self, subscription_id: str) -> None:
        self._call("DELETE", f"/subscriptions/{_q(subscription_id)}")

    def cut_streams(self, mailbox: str | None = None) -> int:
        suffix = f"?mailbox={mailbox}" if mailbox else ""
        return int(self._call("POST", f"/streams/cut{suffix}")["cut"])
