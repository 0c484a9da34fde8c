"""EWS operations, one module per concern; `HANDLERS` maps a SOAP body element name to its handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from lxml import etree

from sandbox.counters import Counters
from sandbox.ews.soap import t
from sandbox.ews.state import EwsWorld, Folder, Mailbox

__all__ = ["Context", "EwsFault", "Handler", "resolve_folder"]


class EwsFault(Exception):
    """A request-level error, answered as a SOAP fault."""

    def __init__(self, code: str, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class Context:
    world: EwsWorld
    counters: Counters
    principal: str
    acting_as: Mailbox | None  # the impersonated mailbox, else the caller's own, if it has one
    affinity: str | None = None  # the X-BackEndOverrideCookie the caller sent
    set_cookies: dict[str, str] = field(default_factory=dict)  # cookies for the response

    @property
    def mailbox(self) -> Mailbox:
        if self.acting_as is None:
            raise EwsFault("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
        return self.acting_as


Handler = Callable[[Context, etree._Element], Awaitable[etree._Element]]


def resolve_folder(ctx: Context, ref: etree._Element) -> Folder | None:
    """A t:FolderId or t:DistinguishedFolderId, looked up in the mailboxes the caller may reach."""
    if etree.QName(ref).localname == "DistinguishedFolderId":
        address = ref.findtext(f"{t('Mailbox')}/{t('EmailAddress')}")
        mailbox = ctx.mailbox
        if address and address.strip().lower() != mailbox.address:
            other = ctx.world.mailboxes.get(address.strip().lower())
            if other is None or not ctx.world.may_impersonate(ctx.principal, other.address):
                raise EwsFault("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            mailbox = other
        return mailbox.folders.get(ref.get("Id") or "")
    folder = ctx.world.folder_by_id(ref.get("Id") or "")
    if (
        folder is not None
        and folder.mailbox != ctx.mailbox.address
        and not ctx.world.may_impersonate(ctx.principal, folder.mailbox)
    ):
        return None
    return folder
