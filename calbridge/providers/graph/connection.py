"""A Graph connection: a Microsoft Entra app using client credentials, as a typed record.

Tenant, client id and endpoint overrides are stored as JSON; the client secret only as
ciphertext (`parts`, `from_parts`). Checks are pure and say what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

from calbridge.errors import ConnectionInvalid
from calbridge.events import Provider
from calbridge.providers.ca import ca_path, ca_summary, check_ca_pem, stored_ca
from calbridge.providers.checks import check_name, check_url

__all__ = ["GraphConnection"]


@dataclass(frozen=True, slots=True)
class GraphConnection:
    """A Microsoft Entra app using client credentials against Microsoft Graph."""

    name: str
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    authority: str | None = None  # e.g. https://login.microsoftonline.com (azure-identity default)
    graph_url: str | None = None  # e.g. https://graph.microsoft.com/v1.0
    ca_pem: str | None = field(default=None, repr=False)  # a private CA's PEM text (public)
    id: str = ""
    provider: Provider = Provider.GRAPH

    @property
    def ca_file(self) -> str | None:
        """A file holding the CA, for the libraries that want a path (`calbridge.providers.ca`)."""
        return ca_path(self.ca_pem) if self.ca_pem else None

    @property
    def identity(self) -> str:
        return f"{self.tenant_id} {self.client_id}".strip()

    @property
    def endpoint(self) -> str | None:
        return self.graph_url

    def check(self) -> None:
        check_name(self.name)
        check_ca_pem(self.ca_pem)
        for value, what in ((self.tenant_id, "tenant"), (self.client_id, "client id")):
            if not value.strip():
                raise ConnectionInvalid(f"the {what} is empty")
        if not self.client_secret:
            raise ConnectionInvalid("the client secret is empty")
        check_url(self.authority, "the authority", https=True)  # azure-identity insists
        check_url(self.graph_url, "the Graph URL")

    def parts(self) -> tuple[dict[str, Any], dict[str, Any]]:
        settings = {
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "authority": self.authority,
            "graph_url": self.graph_url,
            "ca_pem": self.ca_pem,
        }
        return settings, {"client_secret": self.client_secret}

    @classmethod
    def from_parts(cls, id: str, name: str, settings: dict[str, Any], secret: dict[str, Any]) -> Self:
        return cls(
            id=id,
            name=name,
            tenant_id=settings["tenant_id"],
            client_id=settings["client_id"],
            client_secret=secret["client_secret"],
            authority=settings.get("authority"),
            graph_url=settings.get("graph_url"),
            ca_pem=stored_ca(settings),
        )

    def summary(self) -> dict[str, Any]:
        settings = {k: v for k, v in self.parts()[0].items() if k != "ca_pem"}
        return {**settings, "ca": ca_summary(self.ca_pem)}
