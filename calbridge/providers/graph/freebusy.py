"""Microsoft Graph `getSchedule` through the adapters' `GraphClient`.

The client is the sync's: msgraph-sdk's request builders, authentication and middleware, with
the answer read as JSON by orjson instead of kiota models (which cost milliseconds of CPU per
schedule item). Graph is asked in the requested zone (as its Windows name, in the body and in
`Prefer: outlook.timezone`), so schedule items come back as wall-clock times in that zone: an
all-day event reads as local midnight to midnight. `getSchedule` is called on one mailbox's
calendar (`mailbox`, default the first address asked about); with application permission any
mailbox of the tenant may ask about the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from calbridge.errors import ProviderError
from calbridge.events import Provider
from calbridge.freebusy.intervals import localize
from calbridge.freebusy.types import AddressError, Busy, BusyResult, BusyStatus, ErrorCode, LookupOutcome
from calbridge.translate.errors import UnknownTimeZone
from calbridge.translate.zones import iana_to_windows, zone_info

if TYPE_CHECKING:
    from calbridge.providers.graph.client import GraphClient
    from calbridge.providers.graph.connection import GraphConnection

__all__ = ["GraphFreeBusySource", "open_graph_source", "parse_schedules"]

# Graph's documentation shows "Busy", the enum is "busy": read either.
_STATUS = {
    "busy": BusyStatus.BUSY,
    "tentative": BusyStatus.TENTATIVE,
    "oof": BusyStatus.OOF,
    "workingelsewhere": BusyStatus.WORKING_ELSEWHERE,
}


class GraphFreeBusySource:
    def __init__(
        self, client: GraphClient, *, mailbox: str | None = None, interval_minutes: int = 30
    ) -> None:
        self._client = client
        self._mailbox = mailbox
        self._interval = interval_minutes

    @property
    def provider(self) -> Provider:
        return Provider.GRAPH

    async def query(
        self, addresses: Sequence[str], start: datetime, end: datetime
    ) -> Mapping[str, LookupOutcome]:
        from calbridge.providers.graph.errors import translate_exception

        try:
            zone = iana_to_windows(str(start.tzinfo))
        except UnknownTimeZone:  # a zone Graph has no name for: ask in UTC, answers stay exact
            zone = "UTC"
            start, end = start.astimezone(UTC), end.astimezone(UTC)
        body = {
            "schedules": list(addresses),
            "startTime": {"dateTime": _wall(start), "timeZone": zone},
            "endTime": {"dateTime": _wall(end), "timeZone": zone},
            "availabilityViewInterval": self._interval,
        }
        caller = self._mailbox or addresses[0]
        builder = self._client.user(caller).calendar.get_schedule
        info = self._client.request("POST", builder, body)
        try:
            reply = await self._client.send(info, prefer=(f'outlook.timezone="{zone}"',))
        except ProviderError:
            raise
        except Exception as exc:
            error = translate_exception(exc, on="calendar")
            if error is None:
                raise
            raise error from None
        return parse_schedules((reply or {}).get("value") or [], addresses, start.tzinfo)

    async def aclose(self) -> None:
        await self._client.close()


def open_graph_source(
    connection: GraphConnection, *, mailbox: str | None = None, timeout: float = 30.0
) -> GraphFreeBusySource:
    """A source over a stored Graph connection, with the sync's own client setup."""
    from calbridge.providers.graph.client import GraphClient

    client = GraphClient.for_connection(connection, timeout=timeout)
    return GraphFreeBusySource(client, mailbox=mailbox)


def _wall(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def parse_schedules(
    schedules: Sequence[Mapping[str, Any]], addresses: Sequence[str], zone: Any
) -> dict[str, LookupOutcome]:
    """`scheduleInformation` items (JSON) -> an outcome per requested address."""
    by_id = {str(s.get("scheduleId") or "").lower(): s for s in schedules}
    outcomes: dict[str, LookupOutcome] = {}
    for address in addresses:
        info = by_id.get(address.lower())
        if info is None:
            outcomes[address] = AddressError(ErrorCode.PROVIDER_FAILED, "graph did not answer for it")
        elif info.get("error"):
            outcomes[address] = _schedule_error(str(info["error"].get("responseCode") or ""))
        else:
            blocks = []
            for item in info.get("scheduleItems") or []:
                status = _STATUS.get(str(item.get("status")).lower())
                if status is None or not item.get("start") or not item.get("end"):
                    continue  # free / unknown: not busy
                blocks.append(Busy(_moment(item["start"], zone), _moment(item["end"], zone), status))
            outcomes[address] = BusyResult(tuple(blocks))
    return outcomes


def _moment(stamp: Mapping[str, Any], fallback_zone: Any) -> datetime:
    """A `dateTimeTimeZone`; Graph writes seven fractional digits, which Python reads since 3.11."""
    wall = datetime.fromisoformat(str(stamp["dateTime"]))
    zone = zone_info(stamp["timeZone"]) if stamp.get("timeZone") else fallback_zone
    return localize(wall, zone)


def _schedule_error(code: str) -> AddressError:
    lowered = code.lower()
    if "notfound" in lowered or "invalidrecipient" in lowered or "unresolved" in lowered:
        return AddressError(ErrorCode.UNKNOWN_ADDRESS, "the mailbox was not found")
    if "accessdenied" in lowered or "nofreebusyaccess" in lowered or "proxyrequestnotallowed" in lowered:
        return AddressError(ErrorCode.NOT_PERMITTED, "free/busy of this mailbox is not shared")
    return AddressError(ErrorCode.PROVIDER_FAILED, f"graph: {code or 'error'}")
