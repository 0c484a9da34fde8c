"""Microsoft Graph `getSchedule` through msgraph-sdk.

Graph is asked in the requested zone (as its Windows name, in the body and in
`Prefer: outlook.timezone`), so schedule items come back as wall-clock times in that zone: an
all-day event reads as local midnight to midnight. `getSchedule` is called on one mailbox's
calendar (`mailbox`, default the first address asked about); with application permission any
mailbox of the tenant may ask about the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from calbridge.errors import AccessDenied, NotFound, PermanentProviderError, Throttled, TransientProviderError
from calbridge.events import Provider
from calbridge.freebusy.intervals import localize
from calbridge.freebusy.types import AddressError, Busy, BusyResult, BusyStatus, ErrorCode, Outcome
from calbridge.translate.errors import UnknownTimeZone
from calbridge.translate.zones import iana_to_windows, zone_info

__all__ = ["GraphFreeBusySource", "open_graph_source", "parse_schedules"]

GRAPH_SCOPE = "https://graph.microsoft.com/.default"

_STATUS = {
    "busy": BusyStatus.BUSY,
    "tentative": BusyStatus.TENTATIVE,
    "oof": BusyStatus.OOF,
    "workingElsewhere": BusyStatus.WORKING_ELSEWHERE,
}
DEFAULT_RETRY_AFTER = 1.0


class GraphFreeBusySource:
    def __init__(
        self,
        client: Any,
        *,
        mailbox: str | None = None,
        interval_minutes: int = 30,
        closers: Sequence[Any] = (),
    ) -> None:
        self._client = client  # a msgraph GraphServiceClient
        self._mailbox = mailbox
        self._interval = interval_minutes
        self._closers = closers  # objects with an async close(): credential, HTTP client

    async def close(self) -> None:
        for closer in self._closers:
            await closer.aclose() if hasattr(closer, "aclose") else await closer.close()

    @property
    def provider(self) -> Provider:
        return Provider.GRAPH

    async def query(self, addresses: Sequence[str], start: datetime, end: datetime) -> Mapping[str, Outcome]:
        from kiota_abstractions.api_error import APIError
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
        from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (
            GetSchedulePostRequestBody,
        )

        try:
            zone = iana_to_windows(str(start.tzinfo))
        except UnknownTimeZone:  # a zone Graph has no name for: ask in UTC, answers stay exact
            zone = "UTC"
            start, end = start.astimezone(UTC), end.astimezone(UTC)
        body = GetSchedulePostRequestBody(
            schedules=list(addresses),
            start_time=DateTimeTimeZone(date_time=_wall(start), time_zone=zone),
            end_time=DateTimeTimeZone(date_time=_wall(end), time_zone=zone),
            availability_view_interval=self._interval,
        )
        config = RequestConfiguration()  # type: ignore[var-annotated]
        config.headers.add("Prefer", f'outlook.timezone="{zone}"')
        caller = self._mailbox or addresses[0]
        try:
            reply = await self._client.users.by_user_id(caller).calendar.get_schedule.post(
                body, request_configuration=config
            )
        except APIError as exc:
            raise _provider_error(exc) from None
        except OSError as exc:
            raise TransientProviderError(f"graph unreachable: {type(exc).__name__}") from None
        return parse_schedules(getattr(reply, "value", None) or [], addresses, start.tzinfo)


def open_graph_source(
    tenant_id: str,
    client_id: str,
    client_secret: str,
    *,
    authority: str | None = None,
    graph_url: str | None = None,
    ca_file: str | None = None,
    mailbox: str | None = None,
) -> GraphFreeBusySource:
    """A source with an app registration's client credentials. `authority` and `graph_url`
    point elsewhere than Microsoft's cloud (a national cloud, or the sandbox; https either way,
    which azure-identity requires); `ca_file` trusts a private CA for both."""
    import ssl

    import httpx
    from azure.identity.aio import ClientSecretCredential
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_request_adapter import options as graph_options
    from msgraph.graph_service_client import GraphServiceClient
    from msgraph_core import GraphClientFactory

    extra: dict[str, Any] = {}
    if authority is not None:
        extra.update(authority=authority, disable_instance_discovery=True)
    if ca_file is not None:
        extra["connection_verify"] = ca_file
    credential = ClientSecretCredential(tenant_id, client_id, client_secret, **extra)
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=verify, timeout=30), options=graph_options
    )
    adapter = GraphRequestAdapter(
        AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE]), client=http
    )
    if graph_url is not None:
        adapter.base_url = graph_url.rstrip("/")
    return GraphFreeBusySource(
        GraphServiceClient(request_adapter=adapter), mailbox=mailbox, closers=[credential, http]
    )


def _wall(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def _provider_error(exc: Any) -> Exception:
    status = exc.response_status_code or 0
    headers = {k.lower(): v for k, v in (exc.response_headers or {}).items()}
    if status in (429, 503) and "retry-after" in headers:
        try:
            return Throttled(max(0.0, float(headers["retry-after"])), "graph throttled")
        except ValueError:
            return Throttled(DEFAULT_RETRY_AFTER, "graph throttled")
    if status == 429:
        return Throttled(DEFAULT_RETRY_AFTER, "graph throttled")
    if status in (401, 403):
        return AccessDenied("graph refused free/busy access")
    if status == 404:
        return NotFound("graph does not know the calling mailbox")
    if status >= 500:
        return TransientProviderError(f"graph answered {status}")
    return PermanentProviderError(f"graph answered {status}")


def parse_schedules(schedules: Sequence[Any], addresses: Sequence[str], zone: Any) -> dict[str, Outcome]:
    """`scheduleInformation` items -> an outcome per requested address."""
    by_id = {str(s.schedule_id or "").lower(): s for s in schedules}
    outcomes: dict[str, Outcome] = {}
    for address in addresses:
        info = by_id.get(address.lower())
        if info is None:
            outcomes[address] = AddressError(ErrorCode.PROVIDER_FAILED, "graph did not answer for it")
        elif info.error is not None:
            outcomes[address] = _schedule_error(str(info.error.response_code or ""))
        else:
            blocks = []
            for item in info.schedule_items or []:
                status = _STATUS.get(_value(item.status))
                if status is None or item.start is None or item.end is None:
                    continue  # free / unknown: not busy
                blocks.append(Busy(_moment(item.start, zone), _moment(item.end, zone), status))
            outcomes[address] = BusyResult(tuple(blocks))
    return outcomes


def _value(status: Any) -> str:
    return str(getattr(status, "value", status))


def _moment(stamp: Any, fallback_zone: Any) -> datetime:
    wall = datetime.fromisoformat(str(stamp.date_time))
    zone = zone_info(stamp.time_zone) if stamp.time_zone else fallback_zone
    return localize(wall, zone)


def _schedule_error(code: str) -> AddressError:
    lowered = code.lower()
    if "notfound" in lowered or "invalidrecipient" in lowered or "unresolved" in lowered:
        return AddressError(ErrorCode.UNKNOWN_ADDRESS, "the mailbox was not found")
    if "accessdenied" in lowered or "nofreebusyaccess" in lowered or "proxyrequestnotallowed" in lowered:
        return AddressError(ErrorCode.NOT_PERMITTED, "free/busy of this mailbox is not shared")
    return AddressError(ErrorCode.PROVIDER_FAILED, f"graph: {code or 'error'}")
