"""The suite's own guard: a test cannot reach beyond loopback, by name or by address."""

from __future__ import annotations

import socket

import pytest
from loopback import NonLoopbackTraffic


def test_a_lookup_of_an_outside_name_is_refused() -> None:
    with pytest.raises(NonLoopbackTraffic):
        socket.getaddrinfo("login.microsoftonline.com", 443)


def test_a_connection_to_an_outside_address_is_refused() -> None:
    with socket.socket() as sock, pytest.raises(NonLoopbackTraffic):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: refused before any packet leaves


def test_loopback_stays_reachable() -> None:
    assert socket.getaddrinfo("localhost", 5432)
