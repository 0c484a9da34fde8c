"""Exchange `GetUserAvailability` through the adapters' `EwsClient` (exchangelib).

The client is the sync's: its credentials (OAuth2 with any token URL, NTLM or basic), its TLS
trust, its cached Account per mailbox and the bounded thread pool exchangelib's blocking calls
run in. The window is sent in the requested zone, so returned wall-clock times (and all-day
events) are read in that zone. The call goes out as `mailbox` (impersonated; default the first
address asked about); any mailbox the organisation lets it see can be asked about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from calbridge.events import Provider
from calbridge.freebusy.intervals import localize
from calbridge.freebusy.types import AddressError, Busy, BusyResult, BusyStatus, ErrorCode, LookupOutcome

if TYPE_CHECKING:
    from calbridge.providers.ews.client import EwsClient
    from calbridge.providers.ews.connection import EwsConnection

__all__ = ["EwsFreeBusySource", "open_ews_source", "parse_views"]

_STATUS = {
    "Busy": BusyStatus.BUSY,
    "Tentative": BusyStatus.TENTATIVE,
    "OOF": BusyStatus.OOF,
    "WorkingElsewhere": BusyStatus.WORKING_ELSEWHERE,
}


class EwsFreeBusySource:
    def __init__(self, client: EwsClient, *, mailbox: str | None = None) -> None:
        self._client = client
        self._mailbox = mailbox
        # exchangelib's get_free_busy_info asks GetServerTimeZones before every
        # GetUserAvailability; a zone's definition does not change, so it is asked once here.
        self._zones: dict[tuple[str, int], Any] = {}

    @property
    def provider(self) -> Provider:
        return Provider.EWS

    async def query(
        self, addresses: Sequence[str], start: datetime, end: datetime
    ) -> Mapping[str, LookupOutcome]:
        """Errors of the whole call come back as calbridge's (`EwsClient.run`): ErrorServerBusy
        as Throttled with its back-off, refusals as AccessDenied."""
        caller = self._mailbox or addresses[0]
        asked = list(addresses)
        views = await self._client.run("GetUserAvailability", lambda: self._call(caller, asked, start, end))
        return parse_views(views, addresses, start.tzinfo)

    def _call(self, caller: str, addresses: list[str], start: datetime, end: datetime) -> list[Any]:
        """exchangelib's `Protocol.get_free_busy_info`, with the zone definition cached."""
        from exchangelib import EWSDateTime, EWSTimeZone
        from exchangelib.properties import FreeBusyViewOptions, MailboxData, TimeWindow
        from exchangelib.services import GetUserAvailability

        zone = EWSTimeZone(str(start.tzinfo))
        protocol = self._client.account(caller).protocol
        first, last = _in_zone(start, zone, EWSDateTime), _in_zone(end, zone, EWSDateTime)
        return list(
            GetUserAvailability(protocol).call(
                tzinfo=zone,
                mailbox_data=[
                    MailboxData(email=address, attendee_type="Required", exclude_conflicts=False)
                    for address in addresses
                ],
                timezone=self._zone_definition(protocol, zone, first.year),
                free_busy_view_options=FreeBusyViewOptions(
                    time_window=TimeWindow(start=first, end=last),
                    merged_free_busy_interval=30,
                    requested_view="Detailed",
                ),
            )
        )

    def _zone_definition(self, protocol: Any, zone: Any, year: int) -> Any:
        from exchangelib.properties import TimeZone

        key = (zone.key, year)
        found = self._zones.get(key)
        if found is None:
            definition = next(iter(protocol.get_timezones(timezones=[zone], return_full_timezone_data=True)))
            found = self._zones[key] = TimeZone.from_server_timezone(tz_definition=definition, for_year=year)
        return found

    async def aclose(self) -> None:
        self._client.close()


def open_ews_source(
    connection: EwsConnection, *, mailbox: str | None = None, threads: int = 4
) -> EwsFreeBusySource:
    """A source over a stored EWS connection, with the sync's own client setup."""
    from calbridge.providers.ews.client import EwsClient, EwsEndpoint

    return EwsFreeBusySource(
        EwsClient(EwsEndpoint.from_connection(connection), threads=threads), mailbox=mailbox
    )


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


def parse_views(views: Sequence[Any], addresses: Sequence[str], zone: Any) -> dict[str, LookupOutcome]:
    """FreeBusyView objects (or per-mailbox exceptions), in request order -> outcomes."""
    outcomes: dict[str, LookupOutcome] = {}
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
