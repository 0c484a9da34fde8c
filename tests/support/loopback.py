"""A guard for the test session: no connection and no name lookup beyond loopback.

Every test talks to services on this machine only (the sandbox, RabbitMQ, PostgreSQL); a
connection or DNS lookup elsewhere is refused before any packet leaves, and fails the test.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["NonLoopbackTraffic", "loopback_only"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str) or host == "":
        return True  # unix sockets and wildcard binds
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class NonLoopbackTraffic(AssertionError):
    """A test tried to reach beyond this machine; every test talks to loopback only."""


@contextmanager
def loopback_only() -> Iterator[None]:
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def _check(address: object) -> None:
        if isinstance(address, tuple) and address and not _is_loopback(address[0]):
            raise NonLoopbackTraffic(f"test traffic to {address[0]!r} refused: loopback only")

    def connect(self: socket.socket, address: Any) -> None:
        _check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            raise NonLoopbackTraffic(f"test name lookup of {host!r} refused: loopback only")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo
