"""CreateItem, GetItem, FindItem, UpdateItem, DeleteItem on calendar items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from sandbox.counters import Invitation
from sandbox.ews import items as model
from sandbox.ews.occurrences import find_occurrence, occurrence_id, occurrences, parse_occurrence_id
from sandbox.ews.operations import Context, resolve_folder
from sandbox.ews.operations.restriction import matches
from sandbox.ews.render import Shape, render
from sandbox.ews.soap import error_message, item_error, m, response, success_message, t
from sandbox.ews.state import EwsWorld, Folder, StoredItem

__all__ = ["create_item", "delete_item", "find_item", "get_item", "update_item", "update_recipients"]

_MAILS = {"SendOnlyToAll", "SendToAllAndSaveCopy"}
_MAILS_CHANGED = {"SendOnlyToChanged", "SendToChangedAndSaveCopy"}
_NOT_FOUND = "The specified object was not found in the store."


@dataclass
class Target:
    folder: Folder
    item: StoredItem
    index: int | None = None  # an occurrence of a recurring master


def _count_invitations(ctx: Context, item: StoredItem, recipients: int, reason: str) -> None:
    if recipients > 0:
        ctx.counters.invitations.append(Invitation("ews", ctx.mailbox.address, item.id, recipients, reason))


def locate(ctx: Context, ref: etree._Element) -> Target | None:
    """An ItemId, OccurrenceItemId or RecurringMasterItemId, in a mailbox the caller may reach."""
    local = etree.QName(ref).localname
    item_id = ref.get("RecurringMasterId") if local == "OccurrenceItemId" else ref.get("Id")
    index: int | None = int(ref.get("InstanceIndex") or 0) if local == "OccurrenceItemId" else None
    if local == "RecurringMasterItemId":
        item_id = ref.get("OccurrenceId")
    parsed = parse_occurrence_id(item_id or "")
    if parsed is not None:
        item_id, index = parsed
        if local == "RecurringMasterItemId":
            index = None
    found = ctx.world.find_item(item_id or "")
    if found is None:
        return None
    folder, item = found
    if folder.mailbox != ctx.mailbox.address and not ctx.world.may_impersonate(ctx.principal, folder.mailbox):
        return None
    if index is not None and find_occurrence(item, index) is None:
        return None
    return Target(folder, item, index)


def _ids(op: etree._Element, container: str) -> list[etree._Element]:
    holder = op.find(m(container))
    return [] if holder is None else [c for c in holder if isinstance(c.tag, str)]


def _id_only(target: Target) -> etree._Element:
    elem = etree.Element(t("CalendarItem"))
    item_id = target.item.id if target.index is None else occurrence_id(target.item.id, target.index)
    etree.SubElement(elem, t("ItemId"), Id=item_id, ChangeKey=target.item.changekey)
    return elem


async def create_item(ctx: Context, op: etree._Element) -> etree._Element:
    send = op.get("SendMeetingInvitations", "SendToAllAndSaveCopy")
    saved = op.find(f"{m('SavedItemFolderId')}/*")
    folder = resolve_folder(ctx, saved) if saved is not None else ctx.mailbox.calendar
    messages = []
    holder = op.find(m("Items"))
    for source in holder if holder is not None else []:
        if folder is None:
            messages.append(item_error("CreateItem", "ErrorFolderNotFound", "The folder was not found."))
            continue
        item = model.new_item(ctx.world, folder, source)
        folder.items[item.id] = item
        ctx.world.record(folder, item, "create")
        if send in _MAILS:
            _count_invitations(ctx, item, len(model.attendees(item.fields)), send)
        container = etree.Element(m("Items"))
        container.append(_id_only(Target(folder, item)))
        messages.append(success_message("CreateItem", [container]))
    return response("CreateItem", messages)


async def get_item(ctx: Context, op: etree._Element) -> etree._Element:
    shape = Shape.parse(op.find(m("ItemShape")))
    messages = []
    for ref in _ids(op, "ItemIds"):
        target = locate(ctx, ref)
        if target is None:
            messages.append(item_error("GetItem", "ErrorItemNotFound", _NOT_FOUND))
            continue
        occ = None if target.index is None else find_occurrence(target.item, target.index)
        container = etree.Element(m("Items"))
        name = ctx.world.mailboxes[target.folder.mailbox].display_name
        container.append(render(target.item, target.folder, shape, name, occ))
        messages.append(success_message("GetItem", [container]))
    return response("GetItem", messages)


def _in_view(
    folder: Folder,
    shape: Shape,
    name: str,
    restriction: etree._Element | None,
    window: tuple[datetime, datetime] | None,
) -> list[tuple[str, etree._Element]]:
    """(start, rendered item) for what the folder shows: masters as such, or a window's occurrences."""
    found: list[tuple[str, etree._Element]] = []
    for item in folder.items.values():
        if restriction is not None and not matches(restriction, item):
            continue
        if window is None:
            found.append((item.text("Start") or "", render(item, folder, shape, name)))
            continue
        low, high = window
        if "Recurrence" in item.fields:
            found.extend(
                (model.format_dt(occ.start), render(item, folder, shape, name, occ))
                for occ in occurrences(item, high)
                if occ.start < high and occ.end > low
            )
            continue
        start, end = model.span(item.fields)
        if start is not None and end is not None and start < high and end > low:
            found.append((item.text("Start") or "", render(item, folder, shape, name)))
    return sorted(found, key=lambda pair: pair[0])


async def find_item(ctx: Context, op: etree._Element) -> etree._Element:
    shape = Shape.parse(op.find(m("ItemShape")))
    restriction = op.find(m("Restriction"))
    view = op.find(m("CalendarView"))
    paging = op.find(m("IndexedPageItemView"))
    window = None
    if view is not None:
        window = (model.parse_dt(view.get("StartDate") or ""), model.parse_dt(view.get("EndDate") or ""))
        if window[1] < window[0]:
            return response(
                "FindItem",
                [
                    error_message(
                        "FindItem",
                        "ErrorCalendarEndDateIsEarlierThanStartDate",
                        "EndDate is earlier than StartDate",
                    )
                ],
            )
    messages = []
    for ref in _ids(op, "ParentFolderIds"):
        folder = resolve_folder(ctx, ref)
        if folder is None:
            messages.append(error_message("FindItem", "ErrorFolderNotFound", "The folder was not found."))
            continue
        listed = _in_view(
            folder, shape, ctx.world.mailboxes[folder.mailbox].display_name, restriction, window
        )
        total = len(listed)
        offset, limit = 0, total
        if view is not None and view.get("MaxEntriesReturned"):
            limit = int(view.get("MaxEntriesReturned") or total)
        if paging is not None:
            offset = int(paging.get("Offset") or 0)
            limit = int(paging.get("MaxEntriesReturned") or total)
        page = listed[offset : offset + limit]
        last = offset + len(page) >= total
        root = etree.Element(
            m("RootFolder"), TotalItemsInView=str(total), IncludesLastItemInRange=str(last).lower()
        )
        if paging is not None and not last:
            root.set("IndexedPagingOffset", str(offset + len(page)))
        etree.SubElement(root, t("Items")).extend(elem for _, elem in page)
        messages.append(success_message("FindItem", [root]))
    return response("FindItem", messages)


def update_recipients(send: str, before: set[str], after: set[str], touched: set[str]) -> int:
    """How many attendees Exchange mails for an update sent with `send`."""
    if send in _MAILS:
        return len(after | before)  # updates to those who stay, cancellations to those removed
    if send in _MAILS_CHANGED:
        changed = after ^ before
        if not changed and touched & {"Start", "End", "Location", "Recurrence"}:
            changed = after  # a new time or place concerns everyone
        return len(changed)
    return 0


def _apply_updates(item: StoredItem, change: etree._Element, index: int | None) -> set[str]:
    """Apply SetItemField / DeleteItemField; return the names of the fields touched."""
    touched: set[str] = set()
    updates = change.find(t("Updates"))
    for update in updates if updates is not None else []:
        uri = next((c for c in update if etree.QName(c).localname.endswith("URI")), None)
        if uri is None:
            continue
        touched.add((uri.get("FieldURI") or "").split(":")[-1])
        if etree.QName(update).localname == "SetItemField":
            holder = next((c for c in update if etree.QName(c).localname == "CalendarItem"), None)
            if holder is not None:
                model.apply_set(item, uri, holder, index)
        elif etree.QName(update).localname == "DeleteItemField":
            model.apply_delete(item, uri, index)
    return touched


async def update_item(ctx: Context, op: etree._Element) -> etree._Element:
    send = op.get("SendMeetingInvitationsOrCancellations", "SendToAllAndSaveCopy")
    conflict = op.get("ConflictResolution", "AutoResolve")
    messages = []
    for change in _ids(op, "ItemChanges"):
        ref = next(
            (c for c in change if isinstance(c.tag, str) and etree.QName(c).localname.endswith("Id")), None
        )
        target = None if ref is None else locate(ctx, ref)
        if target is None or ref is None:
            messages.append(item_error("UpdateItem", "ErrorItemNotFound", _NOT_FOUND))
            continue
        given = ref.get("ChangeKey")
        if conflict == "NeverOverwrite" and given and given != target.item.changekey:
            text = "The change key in the request does not match the current change key of the item."
            messages.append(item_error("UpdateItem", "ErrorIrresolvableConflict", text))
            continue
        item = target.item
        before = model.attendees(item.fields)
        touched = _apply_updates(item, change, target.index)
        item.changekey = ctx.world.new_changekey()
        item.modified = ctx.world.clock.now()
        ctx.world.record(target.folder, item, "update")
        _count_invitations(
            ctx, item, update_recipients(send, before, model.attendees(item.fields), touched), send
        )
        container = etree.Element(m("Items"))
        container.append(_id_only(target))
        conflicts = etree.Element(m("ConflictResults"))
        etree.SubElement(conflicts, t("Count")).text = "0"
        messages.append(success_message("UpdateItem", [container, conflicts]))
    return response("UpdateItem", messages)


async def delete_item(ctx: Context, op: etree._Element) -> etree._Element:
    send = op.get("SendMeetingCancellations", "SendToAllAndSaveCopy")
    delete_type = op.get("DeleteType", "MoveToDeletedItems")
    messages = []
    for ref in _ids(op, "ItemIds"):
        target = locate(ctx, ref)
        if target is None:
            messages.append(error_message("DeleteItem", "ErrorItemNotFound", _NOT_FOUND))
            continue
        item = target.item
        if send in _MAILS:
            _count_invitations(ctx, item, len(model.attendees(item.fields)), f"cancellation {send}")
        if target.index is not None:
            item.deleted_occurrences.add(target.index)
            item.exceptions.pop(target.index, None)
            item.changekey = ctx.world.new_changekey()
            ctx.world.record(target.folder, item, "update")
        elif delete_type == "MoveToDeletedItems" and target.folder.distinguished != "deleteditems":
            move(
                ctx.world,
                target.folder,
                ctx.world.mailboxes[target.folder.mailbox].folders["deleteditems"],
                item,
            )
        else:
            del target.folder.items[item.id]
            ctx.world.record(target.folder, item, "delete")
        messages.append(success_message("DeleteItem"))
    return response("DeleteItem", messages)


def move(world: EwsWorld, source: Folder, target: Folder, item: StoredItem) -> StoredItem:
    """Move keeps the item but gives it a new id, as Exchange does across folders."""
    del source.items[item.id]
    old_id = item.id
    item.id = world.new_item_id(target.mailbox)
    item.folder_id = target.id
    item.changekey = world.new_changekey()
    target.items[item.id] = item
    world.record_move(source, target, old_id, item)
    return item
