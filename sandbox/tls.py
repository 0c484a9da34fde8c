"""The sandbox's own certificate authority (trustme): HTTPS for the Microsoft side, and the
trust the push deliverer needs to reach an HTTPS receiver that uses a sandbox certificate."""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass

import trustme

__all__ = ["SandboxTLS"]


@dataclass(frozen=True)
class SandboxTLS:
    ca: trustme.CA
    server: trustme.LeafCert

    @classmethod
    @functools.cache
    def create(cls) -> SandboxTLS:
        """The process's sandbox CA (made once: each costs ~0.1 s and tests start many sandboxes)."""
        ca = trustme.CA(organization_name="calbridge sandbox")
        return cls(ca, ca.issue_cert("127.0.0.1", "localhost", "::1"))

    @property
    def ca_pem(self) -> str:
        return self.ca.cert_pem.bytes().decode()

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """System trust plus the sandbox CA."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def issue(self, *hosts: str) -> trustme.LeafCert:
        """A certificate for a test's own HTTPS endpoint (e.g. a receiver the sandbox pushes to)."""
        return self.ca.issue_cert(*hosts)
