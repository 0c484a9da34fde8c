"""GetUserOofSettings and SetUserOofSettings: a mailbox's automatic replies (Outlook's "out of
office"), in the shapes Exchange 2010+ answers and exchangelib's `account.oof_settings` reads.

The request names the mailbox in `t:Mailbox/t:Address`; it must be the caller's own or one the
caller may impersonate. `OofState` is Enabled, Disabled or Scheduled; a scheduled reply needs a
`Duration` whose end is after its start (ErrorInvalidParameter otherwise). The answer carries
the `ResponseMessage` and the settings (`OofSettings` in the types namespace) side by side, not
in a `ResponseMessages` array, and `AllowExternalOof` after them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lxml import etree

from sandbox.ews.operations import Context, EwsFault
from sandbox.ews.soap import error_message, m, success_message, t
from sandbox.ews.state import Mailbox, OofSettings

__all__ = ["get_user_oof_settings", "set_user_oof_settings", "update_oof"]

_STATES = {"enabled": "Enabled", "disabled": "Disabled", "scheduled": "Scheduled"}
_AUDIENCES = {"none": "None", "known": "Known", "all": "All"}


def _target(ctx: Context, op: etree._Element) -> Mailbox:
    address = (op.findtext(f"{t('Mailbox')}/{t('Address')}") or "").strip().lower()
    mailbox = ctx.world.mailboxes.get(address)
    if mailbox is None:
        raise EwsFault("ErrorMailRecipientNotFound", "The SMTP address has no mailbox associated with it.")
    if mailbox.address != ctx.mailbox.address and not ctx.world.may_impersonate(
        ctx.principal, mailbox.address
    ):
        raise EwsFault("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    return mailbox


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def update_oof(
    mailbox: Mailbox,
    state: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    internal_reply: str | None = None,
    external_reply: str | None = None,
    external_audience: str | None = None,
) -> OofSettings:
    """Change the settings as SetUserOofSettings (or the person, in Outlook) would."""
    found = _STATES.get(state.lower())
    if found is None:
        raise EwsFault("ErrorInvalidParameter", f"'{state}' is not a valid OofState.")
    if found == "Scheduled" and (start is None or end is None or not start < end):
        raise EwsFault("ErrorInvalidParameter", "A scheduled reply needs a Duration ending after it starts.")
    settings = mailbox.oof
    settings.state = found
    if start is not None and end is not None:
        settings.start, settings.end = start.astimezone(UTC), end.astimezone(UTC)
    if external_audience is not None:
        settings.external_audience = _AUDIENCES.get(external_audience.lower(), "All")
    if internal_reply is not None:
        settings.internal_reply = internal_reply
    if external_reply is not None:
        settings.external_reply = external_reply
    return settings


async def get_user_oof_settings(ctx: Context, op: etree._Element) -> etree._Element:
    mailbox = _target(ctx, op)
    settings = mailbox.oof
    result = etree.Element(m("GetUserOofSettingsResponse"), nsmap={"m": m("")[1:-1], "t": t("")[1:-1]})
    result.append(success_message("", tag="ResponseMessage"))
    oof = etree.SubElement(result, t("OofSettings"))
    etree.SubElement(oof, t("OofState")).text = settings.state
    etree.SubElement(oof, t("ExternalAudience")).text = settings.external_audience
    now = ctx.world.clock.now()
    start = settings.start or now.replace(minute=0, second=0, microsecond=0)
    end = settings.end or start + timedelta(days=1)
    duration = etree.SubElement(oof, t("Duration"))
    etree.SubElement(duration, t("StartTime")).text = _stamp(start)
    etree.SubElement(duration, t("EndTime")).text = _stamp(end)
    for name, text in (
        ("InternalReply", settings.internal_reply),
        ("ExternalReply", settings.external_reply),
    ):
        reply = etree.SubElement(oof, t(name))
        etree.SubElement(reply, t("Message")).text = text
    etree.SubElement(result, m("AllowExternalOof")).text = "All"
    return result


async def set_user_oof_settings(ctx: Context, op: etree._Element) -> etree._Element:
    mailbox = _target(ctx, op)
    wanted = op.find(t("UserOofSettings"))
    result = etree.Element(m("SetUserOofSettingsResponse"), nsmap={"m": m("")[1:-1], "t": t("")[1:-1]})
    if wanted is None:
        result.append(
            error_message("", "ErrorInvalidRequest", "UserOofSettings is required.", tag="ResponseMessage")
        )
        return result
    try:
        update_oof(
            mailbox,
            wanted.findtext(t("OofState")) or "",
            start=_time(wanted.findtext(f"{t('Duration')}/{t('StartTime')}")),
            end=_time(wanted.findtext(f"{t('Duration')}/{t('EndTime')}")),
            internal_reply=wanted.findtext(f"{t('InternalReply')}/{t('Message')}") or "",
            external_reply=wanted.findtext(f"{t('ExternalReply')}/{t('Message')}") or "",
            external_audience=wanted.findtext(t("ExternalAudience")),
        )
    except EwsFault as fault:
        result.append(error_message("", fault.code, fault.message, tag="ResponseMessage"))
        return result
    result.append(success_message("", tag="ResponseMessage"))
    return result
