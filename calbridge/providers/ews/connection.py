"""An EWS connection: an Exchange Web Services account that impersonates mailboxes.

Auth, endpoints and account names are stored as JSON; the password (or OAuth client secret)
only as ciphertext (`parts`, `from_parts`). Checks are pure and say what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Self

from calbridge.errors import ConnectionInvalid
from calbridge.events import Provider
from calbridge.providers.ca import ca_path, ca_summary, check_ca_pem, stored_ca
from calbridge.providers.checks import check_name, check_url

__all__ = ["EWS_AUTHS", "EwsAuth", "EwsConnection"]

EwsAuth = Literal["ntlm", "basic", "oauth"]
EWS_AUTHS: tuple[str, ...] = ("ntlm", "basic", "oauth")


@dataclass(frozen=True, slots=True)
class EwsConnection:
    """An Exchange Web Services account that impersonates the mailboxes it syncs.

    `ntlm`/`basic`: `username` + `password` (on-premises Exchange). `oauth`: app-only client
    credentials (`tenant_id`, `client_id`, the client secret in `password`).
    """

    name: str
    auth: EwsAuth
    password: str = field(repr=False)
    url: str | None = None  # None: autodiscover
    username: str | None = None
    autodiscover_url: str | None = None  # a known SOAP Autodiscover endpoint; None: DNS steps
    tenant_id: str | None = None
    client_id: str | None = None
    token_url: str | None = None  # oauth token endpoint override
    ca_pem: str | None = field(default=None, repr=False)  # a private CA's PEM text (public)
    id: str = ""
    provider: Provider = Provider.EWS

    @property
    def ca_file(self) -> str | None:
        """A file holding the CA, for the libraries that want a path (`calbridge.providers.ca`)."""
        return ca_path(self.ca_pem) if self.ca_pem else None

    @property
    def autodiscover(self) -> bool:
        return self.url is None

    @property
    def identity(self) -> str:
        return f"{self.tenant_id or ''} {self.client_id or self.username or ''}".strip()

    @property
    def endpoint(self) -> str | None:
        return self.url

    def check(self) -> None:
        check_name(self.name)
        check_ca_pem(self.ca_pem)
        if self.auth not in EWS_AUTHS:
            raise ConnectionInvalid(f"EWS auth must be one of {', '.join(EWS_AUTHS)}")
        check_url(self.url, "the EWS URL")
        check_url(self.autodiscover_url, "the autodiscover URL")
        if self.url is not None and self.autodiscover_url is not None:
            raise ConnectionInvalid("give either the EWS URL or an autodiscover URL, not both")
        check_url(self.token_url, "the token URL")
        if not self.password:
            raise ConnectionInvalid("the EWS password (or client secret) is empty")
        if self.auth == "oauth":
            if not self.tenant_id or not self.client_id:
                raise ConnectionInvalid("EWS oauth needs a tenant and a client id")
        elif not self.username:
            raise ConnectionInvalid(f"EWS {self.auth} needs a username")
        if self.url is None and self.auth == "oauth":
            raise ConnectionInvalid("EWS oauth needs --url (autodiscover needs a username)")

    def parts(self) -> tuple[dict[str, Any], dict[str, Any]]:
        settings = {
            "auth": self.auth,
            "url": self.url,
            "username": self.username,
            "autodiscover_url": self.autodiscover_url,
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "token_url": self.token_url,
            "ca_pem": self.ca_pem,
        }
        return settings, {"password": self.password}

    @classmethod
    def from_parts(cls, id: str, name: str, settings: dict[str, Any], secret: dict[str, Any]) -> Self:
        return cls(
            id=id,
            name=name,
            auth=settings["auth"],
            password=secret["password"],
            url=settings.get("url"),
            username=settings.get("username"),
            autodiscover_url=settings.get("autodiscover_url"),
            tenant_id=settings.get("tenant_id"),
            client_id=settings.get("client_id"),
            token_url=settings.get("token_url"),
            ca_pem=stored_ca(settings),
        )

    def summary(self) -> dict[str, Any]:
        settings = {k: v for k, v in self.parts()[0].items() if k != "ca_pem"}
        return {**settings, "ca": ca_summary(self.ca_pem)}
