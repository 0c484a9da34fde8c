"""Subscribe (streaming) and Unsubscribe."""

from __future__ import annotations

from lxml import etree

from sandbox.ews.ids import subscription_id
from sandbox.ews.operations import Context, resolve_folder
from sandbox.ews.soap import error_message, m, response, success_message, t
from sandbox.ews.state import Subscription

__all__ = ["AFFINITY_COOKIE", "subscribe", "unsubscribe"]

AFFINITY_COOKIE = "X-BackEndOverrideCookie"


async def subscribe(ctx: Context, op: etree._Element) -> etree._Element:
    request = op.find(m("StreamingSubscriptionRequest"))
    if request is None:
        return response(
            "Subscribe",
            [
                error_message(
                    "Subscribe",
                    "ErrorInvalidSubscriptionRequest",
                    "Only streaming subscriptions are emulated.",
                )
            ],
        )
    mailbox = ctx.mailbox
    if sum(1 for s in ctx.world.subscriptions.values() if s.mailbox == mailbox.address) >= (
        ctx.world.max_subscriptions_per_mailbox
    ):
        return response(
            "Subscribe",
            [
                error_message(
                    "Subscribe",
                    "ErrorExceededSubscriptionCount",
                    "You have exceeded the maximum number of subscriptions.",
                )
            ],
        )
    if request.get("SubscribeToAllFolders") == "true":
        folder_ids = {f.id for f in mailbox.folders.values()}
    else:
        folder_ids = set()
        holder = request.find(t("FolderIds"))
        for ref in holder if holder is not None else []:
            folder = resolve_folder(ctx, ref)
            if folder is None:
                return response(
                    "Subscribe",
                    [error_message("Subscribe", "ErrorFolderNotFound", "The folder was not found.")],
                )
            folder_ids.add(folder.id)
    types_holder = request.find(t("EventTypes"))
    event_types = {
        (e.text or "").strip().removesuffix("Event")
        for e in (types_holder if types_holder is not None else [])
    }
    backend = f"1~{mailbox.address.split('@')[0]}-be"  # one backend per mailbox, as anchors group them
    sub_id = subscription_id(ctx.world.rng, mailbox.address)
    sub = Subscription(sub_id, mailbox.address, folder_ids, event_types, backend)
    ctx.set_cookies[AFFINITY_COOKIE] = backend
    ctx.world.subscriptions[sub.id] = sub
    sub_elem = etree.Element(m("SubscriptionId"))
    sub_elem.text = sub.id
    return response("Subscribe", [success_message("Subscribe", [sub_elem])])


async def unsubscribe(ctx: Context, op: etree._Element) -> etree._Element:
    sub_id = (op.findtext(m("SubscriptionId")) or "").strip()
    sub = ctx.world.subscriptions.get(sub_id)
    if sub is None or sub.mailbox != ctx.mailbox.address:
        return response(
            "Unsubscribe",
            [
                error_message(
                    "Unsubscribe", "ErrorSubscriptionNotFound", "The specified subscription was not found."
                )
            ],
        )
    drop(ctx.world.subscriptions, sub_id)
    return response("Unsubscribe", [success_message("Unsubscribe")])


def drop(subscriptions: dict[str, Subscription], sub_id: str) -> bool:
    sub = subscriptions.pop(sub_id, None)
    if sub is None:
        return False
    sub.dropped = True
    sub.notify()
    return True
