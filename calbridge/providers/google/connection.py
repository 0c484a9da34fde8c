"""A Google connection: a service account with domain-wide delegation, as a typed record.

Its non-secret settings (the key's public fields, endpoint overrides) are stored as JSON; the
private key only as ciphertext (`parts`, `from_parts`). Checks are pure and say what to fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Self

from calbridge.errors import ConnectionInvalid
from calbridge.events import Provider
from calbridge.providers.ca import ca_path, ca_summary, check_ca_pem, stored_ca
from calbridge.providers.checks import check_name, check_url

__all__ = ["SERVICE_ACCOUNT_REQUIRED", "SERVICE_ACCOUNT_SECRET", "GoogleConnection", "parse_service_account"]

# What google-auth's `from_service_account_info` needs, and which of it is secret.
SERVICE_ACCOUNT_REQUIRED = ("client_email", "private_key", "token_uri")
SERVICE_ACCOUNT_SECRET = ("private_key", "private_key_id")


def parse_service_account(text: str, source: str = "the service-account file") -> dict[str, Any]:
    """The key JSON of a service account; ConnectionInvalid naming what is missing."""
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConnectionInvalid(f"{source} is not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(info, dict):
        raise ConnectionInvalid(f"{source} is not a JSON object")
    if info.get("type", "service_account") != "service_account":
        raise ConnectionInvalid(
            f"{source} is a {info.get('type')!r} key; domain-wide delegation needs a service_account key"
        )
    missing = [key for key in SERVICE_ACCOUNT_REQUIRED if not info.get(key)]
    if missing:
        raise ConnectionInvalid(f"{source} lacks {', '.join(missing)}")
    if "PRIVATE KEY" not in str(info["private_key"]):
        raise ConnectionInvalid(f"{source}: private_key is not a PEM private key")
    return info


@dataclass(frozen=True, slots=True)
class GoogleConnection:
    """A Google service account with domain-wide delegation (it acts as each user it syncs)."""

    name: str
    service_account: dict[str, Any] = field(repr=False)  # the key JSON, private key included
    api_endpoint: str | None = None  # full base incl. /calendar/v3/, for non-Google endpoints
    token_uri: str | None = None  # overrides the key's token_uri
    ca_pem: str | None = field(default=None, repr=False)  # a private CA's PEM text (public)
    id: str = ""
    provider: Provider = Provider.GOOGLE
    # The admin delegated gmail.settings.basic too: out of office is read from and mirrored to
    # Gmail's vacation responder (docs/hybrid.md). Calendar alone otherwise.
    gmail_settings: bool = False

    @property
    def ca_file(self) -> str | None:
        """A file holding the CA, for the libraries that want a path (`calbridge.providers.ca`)."""
        return ca_path(self.ca_pem) if self.ca_pem else None

    @property
    def client_email(self) -> str:
        return str(self.service_account.get("client_email", ""))

    @property
    def effective_token_uri(self) -> str:
        return self.token_uri or str(self.service_account["token_uri"])

    @property
    def identity(self) -> str:
        return self.client_email

    @property
    def endpoint(self) -> str | None:
        return self.api_endpoint

    def service_account_info(self) -> dict[str, Any]:
        """The key JSON for `Credentials.from_service_account_info`, with the token URI override."""
        return {**self.service_account, "token_uri": self.effective_token_uri}

    def check(self) -> None:
        check_name(self.name)
        check_ca_pem(self.ca_pem)
        parse_service_account(json.dumps(self.service_account))
        check_url(self.api_endpoint, "the API endpoint")
        check_url(self.token_uri, "the token URI")
        if self.api_endpoint and not self.api_endpoint.endswith("/"):
            raise ConnectionInvalid("the API endpoint must end with '/' (e.g. https://host/calendar/v3/)")

    def parts(self) -> tuple[dict[str, Any], dict[str, Any]]:
        account = self.service_account
        public = {k: v for k, v in account.items() if k not in SERVICE_ACCOUNT_SECRET}
        secret = {k: account[k] for k in SERVICE_ACCOUNT_SECRET if k in account}
        settings = {
            "service_account": public,
            "api_endpoint": self.api_endpoint,
            "token_uri": self.token_uri,
            "ca_pem": self.ca_pem,
            "gmail_settings": self.gmail_settings,
        }
        return settings, secret

    @classmethod
    def from_parts(cls, id: str, name: str, settings: dict[str, Any], secret: dict[str, Any]) -> Self:
        return cls(
            id=id,
            name=name,
            service_account={**settings["service_account"], **secret},
            api_endpoint=settings.get("api_endpoint"),
            token_uri=settings.get("token_uri"),
            ca_pem=stored_ca(settings),
            gmail_settings=bool(settings.get("gmail_settings", False)),
        )

    def summary(self) -> dict[str, Any]:
        return {
            "client_email": self.client_email,
            "token_uri": self.effective_token_uri,
            "api_endpoint": self.api_endpoint,
            "ca": ca_summary(self.ca_pem),
            "gmail_settings": self.gmail_settings,
        }
