"""msgraph-sdk set up for calbridge, and the way its requests are sent.

The stock SDK deserializes every answer into kiota models, and `Entity.get_field_deserializers`
runs some 2,400 imports per object: about 10 ms of CPU per call (see `bench/README.md`). The
translator wants plain JSON anyway, so calbridge uses the SDK's request builders for URLs,
query encoding, authentication and middleware, and sends through the request adapter's raw
`send_primitive_async(..., "bytes")`, parsing the bytes with orjson. No model is ever built, so
nothing needs patching.

- Credentials: client credentials (`azure.identity.aio.ClientSecretCredential`); for a sandbox
  or a sovereign cloud an `authority` (https) and a CA file may be given.
- The middleware chain is the SDK's, trimmed to what these requests need: query-name decoding
  and Graph's telemetry (`client-request-id`, `SdkVersion`). Retrying is left out (waiting and
  retrying is the bus's policy, and a 429 must reach the caller as `Throttled` instead of
  blocking a worker for minutes), and so are redirects (Graph's calendar API does not
  redirect), `/me` rewriting (app-only calls never use it) and the inspection handlers (nothing
  reads them); together they were about a tenth of a call's CPU. The User-Agent names calbridge.
- Every request asks for immutable ids and UTC times (`Prefer` headers), so ids survive moves
  and `calbridge.providers.graph.translate` reads times the way it expects.
- httpx sends through aiohttp (`httpx_aiohttp.AiohttpTransport`): kiota needs an httpx client,
  but with httpx's own transport (httpcore over anyio's TLS stream) a call cost 1.2-1.3x the
  CPU; the aiohttp transport keeps the SDK, its middleware and its auth unchanged
  (`bench/providers.py` compares the two).
- The access token is kept until shortly before it expires (`CachedToken`): azure-identity
  searches MSAL's token cache on every request, about a tenth of a call's CPU.
- A failed answer's body is parsed by the SDK into its `ODataError` (small models, only on
  failure), so the error calbridge raises can say Graph's code and message.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any, Literal

import orjson

if TYPE_CHECKING:
    from calbridge.providers.graph.connection import GraphConnection

__all__ = ["GRAPH_URL", "PREFER", "CachedToken", "GraphClient"]

GRAPH_URL = "https://graph.microsoft.com/v1.0"
SCOPES = ["https://graph.microsoft.com/.default"]
# Bodies are not asked for as text: HTML descriptions keep their markup and the translator
# unwraps Exchange's HTML document (calbridge.translate.text.body_from_graph).
PREFER = ('IdType="ImmutableId"', 'outlook.timezone="UTC"')
USER_AGENT = f"calbridge/{_version('calbridge')}"
TOKEN_MARGIN = 300.0  # seconds before expiry that a cached token is fetched anew
Transport = Literal["aiohttp", "httpx"]


class CachedToken:
    """An async token credential that reuses its inner credential's token until near expiry.

    Only plain requests are served from the cache: a request with claims (a CAE challenge) or
    another tenant goes to the inner credential, which knows how to answer it.
    """

    def __init__(self, inner: Any, *, margin: float = TOKEN_MARGIN) -> None:
        self._inner = inner
        self._margin = margin
        self._tokens: dict[tuple[str, ...], Any] = {}
        self._lock = asyncio.Lock()

    async def get_token(
        self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, **kwargs: Any
    ) -> Any:
        if claims or tenant_id:
            return await self._inner.get_token(*scopes, claims=claims, tenant_id=tenant_id, **kwargs)
        token = self._tokens.get(scopes)
        if token is not None and token.expires_on - self._margin > time.time():
            return token
        async with self._lock:  # one fetch when many requests find the token stale at once
            token = self._tokens.get(scopes)
            if token is None or token.expires_on - self._margin <= time.time():
                token = await self._inner.get_token(*scopes, **kwargs)
                self._tokens[scopes] = token
            return token

    async def close(self) -> None:
        await self._inner.close()

    async def __aenter__(self) -> CachedToken:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class GraphClient:
    """One app registration's authenticated Graph client."""

    @classmethod
    def for_connection(cls, connection: GraphConnection, *, timeout: float = 30.0) -> GraphClient:
        """A client for a stored connection: its tenant, app, secret, authority, endpoint and CA."""
        return cls(
            connection.tenant_id,
            connection.client_id,
            connection.client_secret,
            authority=connection.authority,
            graph_url=connection.graph_url,
            ca_file=connection.ca_file,
            timeout=timeout,
        )

    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        *,
        authority: str | None = None,
        graph_url: str | None = None,
        ca_file: str | None = None,
        timeout: float = 30.0,
        transport: Transport = "aiohttp",
    ) -> None:
        import httpx
        from azure.identity.aio import ClientSecretCredential
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )
        from kiota_http.middleware import ParametersNameDecodingHandler
        from msgraph.generated.models.o_data_errors.o_data_error import ODataError
        from msgraph.graph_request_adapter import GraphRequestAdapter
        from msgraph.graph_request_adapter import options as graph_options
        from msgraph.graph_service_client import GraphServiceClient
        from msgraph_core import GraphClientFactory
        from msgraph_core.middleware import GraphTelemetryHandler
        from msgraph_core.middleware.options import GraphTelemetryHandlerOption

        extra: dict[str, Any] = {}
        if authority:
            extra.update(authority=authority, disable_instance_discovery=True)
        if ca_file:
            extra["connection_verify"] = ca_file
        self._credential = CachedToken(ClientSecretCredential(tenant_id, client_id, client_secret, **extra))
        auth = AzureIdentityAuthenticationProvider(self._credential, scopes=SCOPES)
        verify = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
        if transport == "aiohttp":
            from httpx_aiohttp import AiohttpTransport

            # The aiohttp session is opened lazily, inside the running loop, by the first request.
            self._transport: httpx.AsyncBaseTransport = AiohttpTransport(verify=verify)
        else:
            self._transport = httpx.AsyncHTTPTransport(verify=verify)
        self._http = httpx.AsyncClient(
            transport=self._transport, timeout=timeout, headers={"User-Agent": USER_AGENT}
        )
        telemetry = graph_options.get(GraphTelemetryHandlerOption().get_key())
        middleware = [ParametersNameDecodingHandler(), GraphTelemetryHandler(options=telemetry)]
        http = GraphClientFactory.create_with_custom_middleware(middleware, client=self._http)
        self.adapter = GraphRequestAdapter(auth, client=http)
        # Graph's error body for every failed status, mapped as the SDK's own builders map it:
        # the error raised is an ODataError carrying Graph's code and message.
        self._errors: dict[str, Any] = {"XXX": ODataError}
        self.adapter.base_url = (graph_url or GRAPH_URL).rstrip("/")
        self.sdk = GraphServiceClient(request_adapter=self.adapter)

    def user(self, owner: str) -> Any:
        return self.sdk.users.by_user_id(owner)

    async def send(self, info: Any, *, prefer: tuple[str, ...] = PREFER) -> Any:
        """Send a built request; the answer's JSON as dicts (None for an empty answer)."""
        for value in prefer:
            info.headers.add("Prefer", value)
        if not info.path_parameters.get(info.RAW_URL_KEY):
            # kiota expands the URI template each time it reads `url` (three times per request);
            # expanding it once here saves about a fifth of the call's CPU.
            # The request shares its builder's path-parameter dict, which setting `url` clears.
            info.path_parameters = {**info.path_parameters, "baseurl": self.adapter.base_url}
            info.url = info.url
        raw = await self.adapter.send_primitive_async(info, "bytes", self._errors)
        return orjson.loads(raw) if raw else None

    @staticmethod
    def request(method: str, builder: Any, body: Any = None) -> Any:
        """A request to `builder`'s URL (its templates and path parameters) with a JSON body."""
        from kiota_abstractions.method import Method
        from kiota_abstractions.request_information import RequestInformation

        info = RequestInformation(Method[method], builder.url_template, builder.path_parameters)
        info.headers.try_add("Accept", "application/json")
        if body is not None:
            info.set_stream_content(orjson.dumps(body), "application/json")
        return info

    async def close(self) -> None:
        await self._http.aclose()
        # The SDK wraps the transport in its own, which does not pass `aclose` on.
        await self._transport.aclose()
        await self._credential.close()
