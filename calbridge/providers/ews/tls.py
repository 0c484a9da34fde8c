"""Trust a private CA for the EWS endpoints of a connection that names one (`ca_file`).

exchangelib builds its requests sessions itself; its documented hook is the class attribute
`BaseProtocol.HTTP_ADAPTER_CLS`. The adapter installed here verifies a host registered with a CA
file against that file, and every other host as requests always does (system trust store).
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from exchangelib.protocol import BaseProtocol

__all__ = ["CaPinningAdapter", "trust_ca"]

_ca_by_host: dict[str, str] = {}
_lock = threading.Lock()


class CaPinningAdapter(requests.adapters.HTTPAdapter):
    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        pinned = _ca_by_host.get(_host(url))
        super().cert_verify(conn, url, pinned if pinned and verify else verify, cert)


def trust_ca(ca_file: str, *urls: str | None) -> None:
    """Verify these URLs' hosts against `ca_file` (idempotent; installs the adapter once)."""
    with _lock:
        for url in urls:
            if url:
                _ca_by_host[_host(url)] = ca_file
        if BaseProtocol.HTTP_ADAPTER_CLS is not CaPinningAdapter:
            BaseProtocol.HTTP_ADAPTER_CLS = CaPinningAdapter


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
