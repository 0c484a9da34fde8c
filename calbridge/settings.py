"""Settings from the environment (prefix CALBRIDGE_), validated once at start.

Bad configuration fails at start with a message naming the variable; secrets are SecretStr and
never printed. `docs/configuration.md` is checked against this class by a test.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AnyUrl, BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from calbridge.errors import ConfigurationError
from calbridge.events import Provider

__all__ = ["ENV_PREFIX", "Duration", "Settings", "format_duration", "load_settings"]

ENV_PREFIX = "CALBRIDGE_"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SHORT_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")


def _parse_duration(value: object) -> object:
    """`90s`, `30m`, `24h`, `7d` as well as what pydantic reads (seconds, ISO 8601 `PT24H`)."""
    if isinstance(value, str):
        match = _SHORT_DURATION.fullmatch(value.lower())
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])
        if not value.strip().upper().startswith("P"):  # not ISO 8601 either: say what is read
            raise ValueError(f"{value.strip()!r} is not a duration: write it as 90s, 30m, 24h or 7d")
    return value


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling in the units `_parse_duration` reads."""
    seconds = value.total_seconds()
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        smallest = 2 * size if unit == "d" else size  # 24h reads better than 1d
        if seconds >= smallest and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[timedelta, BeforeValidator(_parse_duration), Field(gt=timedelta(0))]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # --- infrastructure
    amqp_url: SecretStr | None = Field(
        default=None,
        description="RabbitMQ URL (amqp://user:pass@host:5672/vhost). Unset: the in-process memory bus, "
        "which only the single-process demo can use.",
    )
    database_url: SecretStr = Field(
        default=SecretStr("sqlite+aiosqlite:///calbridge.db"),
        description="Database URL: sqlite:///FILE (embedded default) or postgresql://user:pass@host/db "
        "(production); plain sqlite://, postgres:// and postgresql:// URLs are mapped to the async "
        "drivers calbridge uses (aiosqlite, asyncpg).",
    )

    # --- bus
    shard_count: int = Field(default=8, ge=1, le=256, description="Number of change-event shard queues.")
    prefetch: int = Field(default=32, ge=1, le=10_000, description="Unacknowledged messages per consumer.")
    retry_delays: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(1, 5, 30, 120, 600, 1800),
        description="Seconds between attempts of a failed change event (comma-separated). After the "
        "last one the event goes to calbridge.dlq.",
    )
    throttle_limit: Duration = Field(
        default=timedelta(days=1),
        description="How long a change event may keep being throttled (429, or a 503 with Retry-After) "
        "before it goes to calbridge.dlq. Throttled waits do not use up the attempts of retry_delays; "
        "this time, counted from the first throttle, bounds them instead.",
    )
    meeting_keywords: str = Field(
        default="@meet=googleMeet,@teams=teamsForBusiness",
        description="For pairs with meeting links: the words in a location that ask for a meeting, "
        "each `keyword=provider` (googleMeet or teamsForBusiness), comma-separated.",
    )
    throttle_patience: float = Field(
        default=60.0,
        ge=0,
        le=900,
        description="Longest a throttled provider call waits inside the processor (the mailbox's other "
        "calls wait with it) before the change event is handed back to the bus to wait in a delay "
        "queue instead.",
    )
    publish_timeout: float = Field(
        default=1.5, gt=0, le=10, description="Seconds to wait for the broker's confirm before giving up."
    )
    delivery_limit: int = Field(
        default=20,
        ge=2,
        le=1000,
        description="Deliveries of one message before RabbitMQ dead-letters it to calbridge.dlq: a safety "
        "net for a message that keeps crashing its consumer (handler failures follow retry_delays). "
        "Fixed when the queues are first declared.",
    )
    drain_timeout: float = Field(
        default=20,
        gt=0,
        le=600,
        description="Seconds a stopping consumer waits for running handlers to finish before cancelling "
        "them (keep below the pod's termination grace period).",
    )

    # --- processor
    processor_http_host: str = Field(
        default="0.0.0.0", description="Address the processor's /healthz, /readyz and /metrics bind."
    )
    processor_http_port: int = Field(
        default=9090, ge=1, le=65535, description="Port of the processor's /healthz, /readyz and /metrics."
    )
    apply_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Changes of one sync pass applied at once (a series and its exceptions stay in "
        "order). Graph requests stay within CALBRIDGE_GRAPH_MAILBOX_CONCURRENCY per mailbox.",
    )
    series_horizon_days: int = Field(
        default=365,
        ge=30,
        le=3650,
        description="How far ahead a series the other side cannot hold as one pattern is written as "
        "single events; the processor moves this horizon forward as time passes. Keep it within "
        "CALBRIDGE_GRAPH_WINDOW_AHEAD_DAYS so Graph's change feed sees every such event.",
    )
    processor_heartbeat: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Seconds between a processor replica's heartbeats; a replica silent for three of "
        "them is taken as gone and its shards move to the others.",
    )
    # --- receiver and notification authentication
    signing_keys: SecretStr | None = Field(
        default=None,
        description="Keys that sign channel tokens and clientState, as KID:SECRET[,KID:SECRET...]. "
        "The first signs new subscriptions; all verify (rotation).",
    )
    public_url: AnyUrl | None = Field(
        default=None,
        description="The receiver's public HTTPS base URL that providers notify (Google and Graph "
        "refuse plain http). http:// is accepted only on a loopback host, for a local run against "
        "the sandbox (docs/local.md).",
    )
    receiver_host: str = Field(default="0.0.0.0", description="Address the receiver binds.")
    receiver_port: int = Field(default=8080, ge=1, le=65535, description="Port the receiver binds.")
    receiver_workers: int = Field(default=1, ge=1, le=64, description="Receiver worker processes.")
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest notification body accepted (413 beyond)."
    )
    ack_budget: float = Field(
        default=2.0,
        gt=0,
        le=2.8,
        description="Seconds the receiver may spend on one notification before it answers 503 so the "
        "provider retries; stays under Graph's 3 s limit (2.9 s counts as slow).",
    )

    # --- Exchange on-premises (EWS)
    ews_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Worker threads that run blocking exchangelib calls per EWS connection (also its "
        "HTTP connection limit). Calls are CPU-bound XML work: more threads than cores buys little.",
    )
    ews_autodiscover_refresh: float = Field(
        default=86_400,
        ge=60,
        description="Seconds an autodiscovered EWS endpoint is trusted before it is looked up again "
        "(connections without a fixed EWS URL).",
    )
    ews_page_size: int = Field(
        default=100,
        ge=1,
        le=512,
        description="Changes per SyncFolderItems page (EWS allows 1-512); each page costs one GetItem.",
    )
    ews_stream_minutes: int = Field(
        default=25,
        ge=1,
        le=29,
        description="ConnectionTimeout of each GetStreamingEvents request, in minutes (EWS allows at most "
        "30); the listener reopens the stream at once when it closes.",
    )
    ews_listener_refresh: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Seconds between the EWS listener's rounds: load the active EWS pairs, renew and "
        "claim leases, start or stop streams. A new pair starts streaming within this time.",
    )
    ews_lease_seconds: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="How long an EWS listener's claim on a subscription lasts without renewal; when a "
        "listener dies, another replica takes its subscriptions over after this long. Keep it several "
        "times CALBRIDGE_EWS_LISTENER_REFRESH.",
    )
    ews_listener_subscriptions: int = Field(
        default=200,
        ge=1,
        le=10_000,
        description="EWS subscriptions one listener replica holds at most; the rest are left to other "
        "replicas.",
    )
    ews_listener_streams: int = Field(
        default=10,
        ge=1,
        le=500,
        description="GetStreamingEvents connections one listener opens per EWS connection at most (one per "
        "mailbox; each holds a thread and an HTTP connection). Exchange counts open streams against "
        "a HangingConnectionLimit (10 in Exchange Online; 3 by default on-premises, raise it for the "
        "service account).",
    )
    ews_listener_metrics_port: int = Field(
        default=9102,
        ge=0,
        le=65535,
        description="Port where `calbridge ews-listener` serves /healthz, /readyz and /metrics; 0 turns "
        "them off.",
    )
    ews_stream_backoff_max: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="Longest wait before reopening an EWS stream that keeps failing (the wait doubles "
        "from one second).",
    )

    # --- provider secrets at rest
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key that encrypts provider credentials stored in the database "
        "(a Fernet key: 32 url-safe base64-encoded bytes; `calbridge connections generate-key` makes "
        "one). Several, comma-separated, for rotation: the first encrypts, all decrypt. A lost key: "
        "enter each connection again with `connections add ... --replace` (docs/operations.md).",
    )
    connection_recheck: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds between a running processor's checks of whether the connections it has "
        "open were replaced in the store (`calbridge connections add ... --replace`); a replaced one "
        "is closed and opened again with the new credentials. The same interval paces a processor "
        "that is not ready because it cannot decrypt any connection.",
    )

    # --- pairs
    import_concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Pairs whose access `calbridge pairs import` checks at once (each check calls both "
        "providers; keep it within their per-app limits).",
    )

    # --- sync safety
    mass_delete_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Pause a pair when one sync pass would delete more than this share of its "
        "linked events (the mass-deletion circuit breaker).",
    )
    mass_delete_min: int = Field(
        default=10,
        ge=1,
        description="Deletions in one pass below this count never trip the mass-deletion breaker.",
    )

    # --- renewer (subscriptions)
    renew_margin: Duration = Field(
        default=timedelta(hours=24),
        description="How long before a subscription expires the renewer renews it (30m, 24h, 2d, or "
        "seconds). Renewal failures are retried with backoff within this margin.",
    )
    renew_jitter: Duration = Field(
        default=timedelta(hours=2),
        description="Up to this much is drawn at random and added to the margin, so renewals of "
        "subscriptions made together spread out.",
    )
    renew_retry_base: Duration = Field(
        default=timedelta(minutes=1),
        description="First wait after a failed create/renew/stop; doubles per failure (with jitter).",
    )
    renew_retry_cap: Duration = Field(
        default=timedelta(hours=1), description="Longest wait between retries of a failed renewal."
    )
    resync_interval: Duration = Field(
        default=timedelta(hours=6),
        description="Every watched calendar gets a RESYNC hint this often (minus up to 10 % jitter): "
        "reconciliation, so a dropped notification delays a change but never loses it.",
    )
    google_channel_ttl: Duration = Field(
        default=timedelta(days=7),
        description="Lifetime asked for a Google push channel (params.ttl); Google may grant less. "
        "Channels are replaced by new ones before they expire.",
    )
    graph_subscription_minutes: int = Field(
        default=10_070,
        ge=45,
        le=10_080,
        description="Lifetime asked for a Graph subscription, in minutes (Outlook events allow at most "
        "10080; a little less absorbs clock skew).",
    )
    subscription_token_lifetime: Duration = Field(
        default=timedelta(days=30),
        description="Lifetime of a Graph clientState token. A renewal cannot change clientState, so a "
        "subscription is recreated with a fresh token about this often (and at once after a key rotation).",
    )
    renewer_interval: float = Field(
        default=60, gt=0, le=3600, description="Seconds between two passes of the renewer."
    )
    renewer_batch: int = Field(
        default=100, ge=1, le=10_000, description="Subscriptions one renewer claims at a time."
    )
    renewer_lease: Duration = Field(
        default=timedelta(minutes=5),
        description="How long a claimed subscription stays with the renewer that claimed it; a renewer "
        "that dies mid-call releases it after this.",
    )
    pair_recheck_interval: Duration = Field(
        default=timedelta(minutes=15),
        description="How often the renewer checks a pair in error again (access on both sides, as "
        "`pairs resume` does); a pair whose access was restored becomes active and resyncs on its own.",
    )
    renewer_http_host: str = Field(default="0.0.0.0", description="Address the renewer's probes bind.")
    renewer_http_port: int = Field(
        default=9091, ge=1, le=65535, description="Port of the renewer's /healthz, /readyz and /metrics."
    )

    # --- provider adapters
    provider_timeout: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description="Seconds before a Google or Graph call is given up as transient.",
    )
    google_threads: int = Field(
        default=8,
        ge=1,
        le=128,
        description="Threads running Google API calls (google-api-python-client is synchronous; each "
        "thread owns its own HTTP connection).",
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        le=100,
        description="PostgreSQL connections a processor or renewer keeps open (and as many again in a "
        "burst); replicas times twice this must stay under the server's max_connections.",
    )
    google_project_daily_quota: int = Field(
        default=1_000_000,
        ge=0,
        description="Google Calendar requests per Cloud project per day (Google's cap since 2026; "
        "raise it for a Scaled Tier project, 0: no daily cap). Past 80 % the rest is spread over the day.",
    )
    shared_quotas: bool = Field(
        default=True,
        description="Count provider quotas (Google per user, project and day; Outlook per mailbox) "
        "in the store, shared by every processor replica, and wait for them before calling.",
    )
    graph_mailbox_concurrency: int = Field(
        default=4,
        ge=1,
        le=16,
        description="Graph requests in flight per mailbox (Outlook answers 429 past 4 per app and mailbox).",
    )
    graph_window_past_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="How far back the Graph change feed (calendarView delta) reaches, in days.",
    )
    graph_window_ahead_days: int = Field(
        default=400,
        ge=1,
        le=3650,
        description="How far ahead the Graph change feed (calendarView delta) reaches, in days.",
    )

    # --- free/busy API
    freebusy_keys: SecretStr | None = Field(
        default=None,
        description="Bearer keys of free/busy API callers, as ID:SECRET[,ID:SECRET...] (secrets of at "
        "least 32 characters). Unset: POST /v1/freebusy is not served.",
    )
    freebusy_domains: str | None = Field(
        default=None,
        description="Which connection answers free/busy for a domain, as DOMAIN=CONNECTION[,...] "
        "(e.g. example.com=google-main,contoso.com=graph-main). Owners of calendars in the store "
        "need no entry.",
    )
    freebusy_timeouts: str = Field(
        default="google=4,graph=4,ews=6",
        description="Seconds each provider may take to answer a free/busy lookup, as PROVIDER=SECONDS "
        "(google, graph, ews); its addresses get a per-address error after that.",
    )
    freebusy_cache_ttl: float = Field(
        default=30,
        ge=0,
        le=3600,
        description="Seconds a free/busy answer per (address, window) is reused; 0 disables the cache "
        "(identical lookups in flight are still shared).",
    )
    freebusy_max_window_days: int = Field(
        default=31, ge=1, le=366, description="Longest free/busy window per request, in days (422 beyond)."
    )
    freebusy_max_addresses: int = Field(
        default=100, ge=1, le=1000, description="Most addresses per free/busy request (413 beyond)."
    )

    # --- logging
    log_format: Literal["json", "console"] = Field(default="json", description="json or console.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="Log level.")

    @field_validator("retry_delays", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("retry_delays")
    @classmethod
    def _check_delays(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay <= 0 for delay in value):
            raise ValueError("every delay must be a positive number of seconds")
        return value

    @field_validator("meeting_keywords")
    @classmethod
    def _check_meeting_keywords(cls, value: str) -> str:
        from calbridge.translate.meetings import parse_keywords  # the model is not needed to start

        parse_keywords(value)  # raises ValueError naming the bad item
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: AnyUrl | None) -> AnyUrl | None:
        if value is not None and not (value.scheme == "https" or _loopback_http(value)):
            raise ValueError(
                "must be an https:// URL: Google and Graph notify only HTTPS addresses "
                "(http:// is accepted on a loopback host only, for a local run)"
            )
        return value

    @field_validator("signing_keys")
    @classmethod
    def _check_signing_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_signing_keys(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _normalize_database_url(cls, value: SecretStr) -> SecretStr:
        from calbridge.store.urls import normalize_database_url

        return SecretStr(normalize_database_url(value.get_secret_value()))

    @field_validator("amqp_url")
    @classmethod
    def _check_amqp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value().strip()
        scheme = text.partition("://")[0].lower() if "://" in text else ""
        if scheme not in ("amqp", "amqps"):
            shown = repr(scheme) if scheme else "no scheme"
            raise ValueError(f"{shown} is not a RabbitMQ URL: use amqp://USER:PASSWORD@HOST:5672/VHOST")
        return SecretStr(text)

    @field_validator("secret_key")
    @classmethod
    def _check_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from calbridge.secretbox import parse_secret_keys  # cryptography only when a key is set

            parse_secret_keys(value.get_secret_value())
        return value

    @field_validator("freebusy_keys")
    @classmethod
    def _check_freebusy_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from calbridge.freebusy.auth import parse_keys

            parse_keys(value.get_secret_value())
        return value

    @field_validator("freebusy_domains")
    @classmethod
    def _check_freebusy_domains(cls, value: str | None) -> str | None:
        from calbridge.freebusy.resolve import parse_domain_map

        if value is not None:
            parse_domain_map(value)
        return value

    @field_validator("freebusy_timeouts")
    @classmethod
    def _check_freebusy_timeouts(cls, value: str) -> str:
        parse_provider_seconds(value)
        return value

    def signing_key_map(self) -> dict[str, bytes]:
        """Key id -> secret, in the order given (the first signs)."""
        if self.signing_keys is None:
            raise ConfigurationError(
                f"{ENV_PREFIX}SIGNING_KEYS is not set; the receiver cannot verify tokens"
            )
        return parse_signing_keys(self.signing_keys)


def _loopback_http(url: AnyUrl) -> bool:
    """An http:// URL whose host is this machine (127.0.0.0/8, ::1 or localhost)."""
    host = (url.host or "").strip("[]")
    if url.scheme != "http":
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_signing_keys(raw: SecretStr) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for part in raw.get_secret_value().split(","):
        if not part.strip():
            continue
        kid, sep, secret = part.strip().partition(":")
        if not sep or not kid or not kid.isalnum() or len(kid) > 8:
            raise ValueError("each key must be KID:SECRET with an alphanumeric KID of at most 8 characters")
        if len(secret) < 32:
            raise ValueError(f"the secret of key {kid!r} must be at least 32 characters")
        if kid in keys:
            raise ValueError(f"key id {kid!r} appears twice")
        keys[kid] = secret.encode()
    if not keys:
        raise ValueError("no keys given")
    return keys


def parse_provider_seconds(raw: str) -> dict[str, float]:
    """`google=4,graph=4,ews=6` -> {provider: seconds}; providers not named keep their default."""
    known = tuple(provider.value for provider in Provider)
    seconds: dict[str, float] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        name, sep, value = (s.strip() for s in part.partition("="))
        if not sep or name not in known:
            raise ValueError(
                f"{part.strip()!r} is not PROVIDER=SECONDS with PROVIDER one of {', '.join(known)}"
            )
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number of seconds") from None
        if not 0 < number <= 60:
            raise ValueError(f"the timeout of {name} must be between 0 and 60 seconds")
        seconds[name] = number
    return seconds


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
        message = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"{name}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings; raise ConfigurationError naming the variable that is wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None
