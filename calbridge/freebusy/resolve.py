"""Which connection answers for an address: a pure lookup in a `Directory`.

Addresses the store knows (owners of its calendars) go to their calendar's connection; any other
address goes by its domain, from `CALBRIDGE_FREEBUSY_DOMAINS` (`example.com=google-main,...`).
Domains match exactly: `sub.example.com` needs its own entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.store.tables import calendars, connections

__all__ = ["Directory", "Routing", "load_known_addresses", "parse_domain_map", "resolve"]


@dataclass(frozen=True, slots=True)
class Directory:
    domains: Mapping[str, str] = field(default_factory=dict)  # domain -> connection name
    known: Mapping[str, str] = field(default_factory=dict)  # address -> connection name


@dataclass(frozen=True, slots=True)
class Routing:
    routes: dict[str, list[str]]  # connection name -> addresses, in request order
    unknown: list[str]


def parse_domain_map(raw: str) -> dict[str, str]:
    """`example.com=google-main,contoso.com=graph-main` -> {domain: connection name}."""
    mapping: dict[str, str] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        domain, sep, connection = (s.strip() for s in part.partition("="))
        if not sep or not domain or not connection or "@" in domain:
            raise ValueError(f"{part.strip()!r} is not DOMAIN=CONNECTION")
        domain = domain.lower()
        if domain in mapping:
            raise ValueError(f"domain {domain!r} appears twice")
        mapping[domain] = connection
    return mapping


def resolve(addresses: Iterable[str], directory: Directory) -> Routing:
    routes: dict[str, list[str]] = {}
    unknown: list[str] = []
    for address in addresses:
        connection = directory.known.get(address) or directory.domains.get(address.rpartition("@")[2])
        if connection is None:
            unknown.append(address)
        else:
            routes.setdefault(connection, []).append(address)
    return Routing(routes, unknown)


async def load_known_addresses(engine: AsyncEngine) -> dict[str, str]:
    """Owner address -> connection name, for every calendar in the store."""
    query = sa.select(calendars.c.owner, connections.c.name).join(
        connections, calendars.c.connection_id == connections.c.id
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {owner.lower(): name for owner, name in rows}
