"""NTLM as on-premises Exchange (IIS) accepts it, through pyspnego's NTLM acceptor.

The handshake is connection-bound: the client's NEGOTIATE message gets a 401 carrying the
server's CHALLENGE; its AUTHENTICATE message, sent on the same connection, is checked against
the user's password; after that the connection stays authenticated, as IIS keeps it by default.
requests_ntlm (what exchangelib's `NTLM` auth type uses) drives exactly that exchange.

pyspnego's acceptor takes the server's credentials only from the file named by the
`NTLM_USER_FILE` environment variable (lines `DOMAIN:USER:PASSWORD`), read when a context is
made and again when AUTHENTICATE arrives. Each world therefore writes its users to a private
file of its own, and every acceptor step runs with the variable pointing at that file, under one
process-wide lock (several sandboxes may run in one process, each on its own thread). Initiators
given an explicit password, as exchangelib's are, never read the variable.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import tempfile
import threading
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import spnego
import spnego.exceptions

__all__ = ["NtlmGate", "NtlmStep"]

_ENV = "NTLM_USER_FILE"
_ENV_LOCK = threading.Lock()
_NEGOTIATE, _AUTHENTICATE = 1, 3


@dataclass(frozen=True)
class NtlmStep:
    """What one `Authorization: NTLM ...` header led to: a challenge to send back in a 401, a
    principal (the handshake is complete), or neither (refused)."""

    challenge: str | None = None
    principal: str | None = None


def _message_type(token: bytes) -> int:
    return int.from_bytes(token[8:12], "little") if token.startswith(b"NTLMSSP\x00") else 0


def _store_lines(users: Mapping[str, str]) -> str:
    lines = []
    for username, password in sorted(users.items()):
        if ":" in username or ":" in password or "\n" in password:
            continue  # the store's format cannot hold them; such a user has Basic only
        domain, _, user = username.rpartition("\\")
        lines.append(f"{domain}:{user}:{password}")
    return "\n".join(lines) + "\n"


@dataclass
class NtlmGate:
    """The NTLM side of one EWS world: its credential file and the handshakes in flight."""

    users: Mapping[str, str]  # username (lower case, `DOMAIN\\user` or `user@domain`) -> password
    _pending: weakref.WeakKeyDictionary[Any, Any] = field(default_factory=weakref.WeakKeyDictionary)
    _done: weakref.WeakKeyDictionary[Any, str] = field(default_factory=weakref.WeakKeyDictionary)
    _path: str | None = None

    def authenticated(self, connection: Any) -> str | None:
        """The principal a connection has already proven, if any (IIS keeps NTLM per connection)."""
        return self._done.get(connection) if connection is not None else None

    def step(self, connection: Any, token_b64: str) -> NtlmStep:
        """Advance the handshake on `connection` with the client's token."""
        if connection is None:
            return NtlmStep()
        try:
            token = base64.b64decode(token_b64.strip(), validate=True)
        except (binascii.Error, ValueError):
            return NtlmStep()
        kind = _message_type(token)
        try:
            if kind == _NEGOTIATE:
                with self._user_file():
                    context = spnego.server(protocol="ntlm")
                    challenge = context.step(token)
                self._pending[connection] = context
                return NtlmStep(challenge=base64.b64encode(challenge or b"").decode())
            context = self._pending.pop(connection, None)
            if kind != _AUTHENTICATE or context is None:
                return NtlmStep()
            with self._user_file():
                context.step(token)
        except spnego.exceptions.SpnegoError:
            return NtlmStep()
        if not context.complete:
            return NtlmStep()
        principal = str(context.client_principal or "").lower()
        if principal not in {u.lower() for u in self.users}:
            return NtlmStep()
        self._done[connection] = principal
        return NtlmStep(principal=principal)

    @contextlib.contextmanager
    def _user_file(self) -> Iterator[None]:
        with _ENV_LOCK:
            if self._path is None:
                fd, self._path = tempfile.mkstemp(prefix="ews-ntlm-", suffix=".users")
                os.close(fd)
                weakref.finalize(self, _remove, self._path)
            with open(self._path, "w", encoding="utf-8") as handle:  # mkstemp made it 0600
                handle.write(_store_lines(self.users))
            before = os.environ.get(_ENV)
            os.environ[_ENV] = self._path
            try:
                yield
            finally:
                if before is None:
                    os.environ.pop(_ENV, None)
                else:
                    os.environ[_ENV] = before


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
