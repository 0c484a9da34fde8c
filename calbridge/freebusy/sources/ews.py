"""Exchange `GetUserAvailability` through exchangelib (`protocol.get_free_busy_info`).

exchangelib is synchronous: the call runs in a worker thread. The window is sent in the
requested zone, so returned wall-clock times (and all-day events) are read in that zone.
`account` is the mailbox the service acts as (impersonation or delegate); any mailbox the
organisation lets it see can be asked about.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from calbridge.errors import AccessDenied, ProviderError, Throttled, TransientProviderError
from calbridge.events import Provider
from calbridge.freebusy.intervals import localize
from calbridge.freebusy.types import AddressError, Busy, BusyResult, BusyStatus, ErrorCode, Outcome

__all__ = ["EwsFreeBusySource", "open_ews_source", "parse_views"]

_STATUS = {
    "Busy": BusyStatus.BUSY,
    "Tentative": BusyStatus.TENTATIVE,
    "OOF": BusyStatus.OOF,
    "WorkingElsewhere": BusyStatus.WORKING_ELSEWHERE,
}


class EwsFreeBusySource:
    def __init__(self, account: Any) -> None:
        self._account = account  # an exchangelib Account

    @property
    def provider(self) -> Provider:
        return Provider.EWS

    async def query(self, addresses: Sequence[str], start: datetime, end: datetime) -> Mapping[str, Outcome]:
        views = await asyncio.to_thread(self._call, list(addresses), start, end)
        return parse_views(views, addresses, start.tzinfo)

    def _call(self, addresses: list[str], start: datetime, end: datetime) -> list[Any]:
        from exchangelib import EWSDateTime, EWSTimeZone
        from exchangelib.errors import (
            ErrorAccessDenied,
            ErrorServerBusy,
            EWSError,
            TransportError,
            UnauthorizedError,
        )

        zone = EWSTimeZone(str(start.tzinfo))
        try:
            return list(
                self._account.protocol.get_free_busy_info(
                    accounts=[(address, "Required", False) for address in addresses],
                    start=_in_zone(start, zone, EWSDateTime),
                    end=_in_zone(end, zone, EWSDateTime),
                    requested_view="Detailed",
                )
            )
        except ErrorServerBusy as exc:
            raise Throttled(float(exc.back_off or 1.0), "exchange is busy") from None
        except (ErrorAccessDenied, UnauthorizedError):
            raise AccessDenied("exchange refused free/busy access") from None
        except TransportError as exc:
            raise TransientProviderError(f"exchange unreachable: {type(exc).__name__}") from None
        except EWSError as exc:
            raise ProviderError(f"exchange: {type(exc).__name__}") from None


def open_ews_source(
    *,
    service_endpoint: str,
    mailbox: str,
    credentials: Any,
    impersonate: bool = True,
    max_connections: int = 4,
) -> EwsFreeBusySource:
    """A source acting as `mailbox` at a fixed endpoint: no autodiscover, no version probing.
    `credentials` is an exchangelib credentials object (OAuth2 client credentials or basic)."""
    from exchangelib import DELEGATE, IMPERSONATION, Account, Configuration
    from exchangelib.version import EXCHANGE_2016, Version

    config = Configuration(
        service_endpoint=service_endpoint,
        credentials=credentials,
        version=Version(build=EXCHANGE_2016),
        max_connections=max_connections,
    )
    access = IMPERSONATION if impersonate else DELEGATE
    return EwsFreeBusySource(Account(mailbox, config=config, autodiscover=False, access_type=access))


def _in_zone(moment: datetime, zone: Any, ews_datetime: Any) -> Any:
    """An EWSDateTime in `zone` (converting into an EWSTimeZone already yields one)."""
    local = moment.astimezone(zone)
    return local if isinstance(local, ews_datetime) else ews_datetime.from_datetime(local)


def _plain(moment: datetime, zone: Any) -> datetime:
    """A plain aware datetime from exchangelib's EWSDateTime (which refuses stdlib zones later
    on, e.g. in `astimezone(UTC)`); wall-clock times are read in the asked zone."""
    tz = moment.tzinfo
    if tz is None:
        tz = zone
    elif isinstance(tz, ZoneInfo):  # EWSTimeZone is a ZoneInfo; use the plain one
        tz = ZoneInfo(tz.key)
    wall = datetime(
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, moment.microsecond
    )
    return localize(wall, tz).replace(fold=moment.fold)


def parse_views(views: Sequence[Any], addresses: Sequence[str], zone: Any) -> dict[str, Outcome]:
    """FreeBusyView objects (or per-mailbox exceptions), in request order -> outcomes."""
    outcomes: dict[str, Outcome] = {}
    for address, view in zip(addresses, views, strict=False):
        if isinstance(view, Exception):
            outcomes[address] = _view_error(type(view).__name__)
            continue
        blocks = []
        for event in view.calendar_events or []:
            status = _STATUS.get(str(event.busy_type))
            if status is not None and event.start is not None and event.end is not None:
                blocks.append(Busy(_plain(event.start, zone), _plain(event.end, zone), status))
        outcomes[address] = BusyResult(tuple(blocks))
    for address in addresses[len(views) :]:
        outcomes[address] = AddressError(ErrorCode.PROVIDER_FAILED, "exchange did not answer for it")
    return outcomes


def _view_error(name: str) -> AddressError:
    if "NotFound" in name or "InvalidRecipients" in name:
        return AddressError(ErrorCode.UNKNOWN_ADDRESS, "the mailbox was not found")
    if "AccessDenied" in name or "NoFreeBusyAccess" in name or "ProxyRequestNotAllowed" in name:
        return AddressError(ErrorCode.NOT_PERMITTED, "free/busy of this mailbox is not shared")
    return AddressError(ErrorCode.PROVIDER_FAILED, f"exchange: {name}")
