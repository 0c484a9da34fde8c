"""SyncFolderItems: opaque sync states over a folder's change log, paged by MaxChangesReturned."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from lxml import etree

from sandbox.ews.operations import Context, EwsFault, resolve_folder
from sandbox.ews.render import Shape, render
from sandbox.ews.soap import error_message, m, response, success_message, t
from sandbox.ews.state import Change, Folder

__all__ = ["SyncPage", "decode_state", "encode_state", "plan_page", "sync_folder_items"]

MAX_CHANGES = 512


class InvalidSyncState(ValueError):
    """The sync state is not one this folder issued, or it has expired."""


@dataclass(frozen=True)
class SyncPage:
    changes: list[tuple[str, str]]  # (item id, create|update|delete), in log order
    next_seq: int
    last: bool


def encode_state(folder: Folder, seq: int) -> str:
    raw = json.dumps({"f": folder.id, "e": folder.sync_epoch, "s": seq}, separators=(",", ":"))
    return base64.b64encode(b"H4sI" + raw.encode()).decode()


def decode_state(folder: Folder, state: str | None) -> int:
    """The log position a state stands for; 0 for no state (a full sync)."""
    if not state:
        return 0
    try:
        raw = base64.b64decode(state.encode(), validate=True)
        if not raw.startswith(b"H4sI"):
            raise InvalidSyncState("not a sync state")
        data = json.loads(raw[4:])
    except (binascii.Error, ValueError) as exc:
        raise InvalidSyncState(str(exc)) from exc
    if data.get("f") != folder.id or data.get("e") != folder.sync_epoch:
        raise InvalidSyncState("expired or foreign sync state")
    return int(data["s"])


def plan_page(log: list[Change], since: int, limit: int, existing: set[str]) -> SyncPage:
    """Net changes after `since`, at most `limit` distinct items; creates then deletes cancel out."""
    net: dict[str, str] = {}
    next_seq = since
    pending = [c for c in log if c.seq > since]
    consumed = 0
    for change in pending:
        if change.item_id not in net and len(net) >= limit:
            break
        first = net.get(change.item_id)
        if first is None:
            net[change.item_id] = change.kind
        elif first == "create" and change.kind == "delete":
            net[change.item_id] = "gone"
        elif first == "gone" and change.kind == "create":
            net[change.item_id] = "create"
        elif change.kind == "delete":
            net[change.item_id] = "delete"
        next_seq = change.seq
        consumed += 1
    changes: list[tuple[str, str]] = []
    for item_id, kind in net.items():
        if kind == "gone":
            continue
        if kind != "delete" and item_id not in existing:
            kind = "delete" if kind == "update" else "gone"  # removed after this page's cut
            if kind == "gone":
                continue
        changes.append((item_id, kind))
    return SyncPage(changes, next_seq, consumed == len(pending))


def _sync_error(code: str, text: str) -> etree._Element:
    # Exchange keeps an empty SyncState and IncludesLastItemInRange in error messages; exchangelib reads both.
    message = error_message("SyncFolderItems", code, text)
    etree.SubElement(message, m("SyncState"))
    etree.SubElement(message, m("IncludesLastItemInRange")).text = "true"
    return response("SyncFolderItems", [message])


async def sync_folder_items(ctx: Context, op: etree._Element) -> etree._Element:
    ref = op.find(f"{m('SyncFolderId')}/*")
    folder = resolve_folder(ctx, ref) if ref is not None else None
    if folder is None:
        return _sync_error("ErrorFolderNotFound", "The folder was not found.")
    try:
        since = decode_state(folder, op.findtext(m("SyncState")))
    except InvalidSyncState:
        return _sync_error(
            "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid."
        )
    limit = int(op.findtext(m("MaxChangesReturned")) or MAX_CHANGES)
    if not 1 <= limit <= MAX_CHANGES:
        raise EwsFault("ErrorInvalidArgument", "MaxChangesReturned must be between 1 and 512.")
    shape = Shape.parse(op.find(m("ItemShape")))
    page = plan_page(folder.log, since, limit, set(folder.items))
    changes = etree.Element(m("Changes"))
    name = ctx.world.mailboxes[folder.mailbox].display_name
    for item_id, kind in page.changes:
        if kind == "delete":
            holder = etree.SubElement(changes, t("Delete"))
            etree.SubElement(holder, t("ItemId"), Id=item_id)
            continue
        holder = etree.SubElement(changes, t("Create" if kind == "create" else "Update"))
        holder.append(render(folder.items[item_id], folder, shape, name))
    state = etree.Element(m("SyncState"))
    state.text = encode_state(folder, page.next_seq)
    last = etree.Element(m("IncludesLastItemInRange"))
    last.text = str(page.last).lower()
    return response("SyncFolderItems", [success_message("SyncFolderItems", [state, last, changes])])
