"""Settings from the environment (prefix CALBRIDGE_), validated once at start.

Bad configuration fails at start with a message naming the variable; secrets are SecretStr and
never printed. `docs/configuration.md` is checked against this class by a test.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AnyUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from calbridge.errors import ConfigurationError

__all__ = ["ENV_PREFIX", "Settings", "load_settings"]

ENV_PREFIX = "CALBRIDGE_"


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
        description="SQLAlchemy async URL: sqlite+aiosqlite:///FILE (embedded default) or "
        "postgresql+asyncpg://user:pass@host/db (production).",
    )

    # --- bus
    shard_count: int = Field(default=8, ge=1, le=256, description="Number of change-event shard queues.")
    prefetch: int = Field(default=32, ge=1, le=10_000, description="Unacknowledged messages per consumer.")
    retry_delays: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(1, 5, 30, 120, 600, 1800),
        description="Seconds between attempts of a failed change event (comma-separated). After the "
        "last one the event goes to calbridge.dlq.",
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
    processor_heartbeat: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Seconds between a processor replica's heartbeats; a replica silent for three of "
        "them is taken as gone and its shards move to the others.",
    )
    graph_mailbox_concurrency: int = Field(
        default=4,
        ge=1,
        le=16,
        description="Concurrent Graph requests per mailbox from one processor (Graph throttles a "
        "mailbox beyond 4).",
    )

    # --- receiver and notification authentication
    signing_keys: SecretStr | None = Field(
        default=None,
        description="Keys that sign channel tokens and clientState, as KID:SECRET[,KID:SECRET...]. "
        "The first signs new subscriptions; all verify (rotation).",
    )
    public_url: AnyUrl | None = Field(
        default=None, description="The receiver's public HTTPS base URL that providers notify."
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

    # --- provider secrets at rest
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key that encrypts provider credentials stored in the database "
        "(a Fernet key: 32 url-safe base64-encoded bytes; `calbridge connections generate-key` makes "
        "one). Several, comma-separated, for rotation: the first encrypts, all decrypt.",
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

    @field_validator("signing_keys")
    @classmethod
    def _check_signing_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_signing_keys(value)
        return value

    @field_validator("secret_key")
    @classmethod
    def _check_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from calbridge.secretbox import parse_secret_keys  # cryptography only when a key is set

            parse_secret_keys(value.get_secret_value())
        return value

    def signing_key_map(self) -> dict[str, bytes]:
        """Key id -> secret, in the order given (the first signs)."""
        if self.signing_keys is None:
            raise ConfigurationError(
                f"{ENV_PREFIX}SIGNING_KEYS is not set; the receiver cannot verify tokens"
            )
        return parse_signing_keys(self.signing_keys)


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


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
        lines.append(f"{name}: {err['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings; raise ConfigurationError naming the variable that is wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
