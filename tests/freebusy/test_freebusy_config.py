"""Free/busy settings, the domain map and the store's calendar owners."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from freebusy_doubles import FakeClock

from calbridge.errors import ConfigurationError
from calbridge.events import Provider
from calbridge.freebusy.auth import AuthRefusal, authenticate, parse_keys
from calbridge.freebusy.configure import StoreDirectory, keys_from, limits_from, timeouts_from
from calbridge.freebusy.resolve import Directory, load_known_addresses, parse_domain_map, resolve
from calbridge.settings import load_settings
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars, connections


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("freebusy_keys", "short", "CALBRIDGE_FREEBUSY_KEYS"),
        ("freebusy_keys", "a:tooshort", "at least 32 characters"),
        ("freebusy_keys", f"a:{'x' * 32},a:{'y' * 32}", "appears twice"),
        ("freebusy_domains", "example.com", "CALBRIDGE_FREEBUSY_DOMAINS"),
        ("freebusy_domains", "a.com=x,A.com=y", "appears twice"),
        ("freebusy_timeouts", "outlook=3", "CALBRIDGE_FREEBUSY_TIMEOUTS"),
        ("freebusy_timeouts", "google=soon", "not a number"),
        ("freebusy_timeouts", "google=0", "between 0 and 60"),
        ("freebusy_max_addresses", "0", "CALBRIDGE_FREEBUSY_MAX_ADDRESSES"),
        ("freebusy_max_window_days", "400", "CALBRIDGE_FREEBUSY_MAX_WINDOW_DAYS"),
    ],
)
def test_given_bad_freebusy_settings_then_start_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(f"CALBRIDGE_{name.upper()}", value)
    with pytest.raises(ConfigurationError, match=says):
        load_settings()


def test_given_good_settings_then_limits_timeouts_and_keys_follow_them() -> None:
    settings = load_settings(
        freebusy_keys=f"portal:{'p' * 32},kiosk:{'k' * 32}",
        freebusy_timeouts="graph=2.5",
        freebusy_max_window_days=14,
        freebusy_max_addresses=40,
    )
    assert limits_from(settings).max_window == timedelta(days=14)
    assert limits_from(settings).max_addresses == 40
    assert timeouts_from(settings) == {Provider.GOOGLE: 4.0, Provider.GRAPH: 2.5, Provider.EWS: 6.0}
    assert keys_from(settings) == {"portal": b"p" * 32, "kiosk": b"k" * 32}
    assert keys_from(load_settings()) == {}


def test_given_a_domain_map_then_it_is_parsed_lower_case_with_spaces_allowed() -> None:
    assert parse_domain_map(" Example.com = google-main , contoso.com=graph-main,") == {
        "example.com": "google-main",
        "contoso.com": "graph-main",
    }


def test_given_addresses_then_they_resolve_by_store_first_then_exact_domain() -> None:
    directory = Directory(
        domains={"example.com": "google-main", "contoso.com": "graph-main"},
        known={"boss@example.com": "ews-main"},
    )
    resolution = resolve(
        ["a@example.com", "boss@example.com", "b@contoso.com", "c@sub.example.com", "d@example.com"],
        directory,
    )
    assert resolution.routes == {
        "google-main": ["a@example.com", "d@example.com"],
        "ews-main": ["boss@example.com"],
        "graph-main": ["b@contoso.com"],
    }
    assert resolution.unknown == ["c@sub.example.com"]


def test_keys_accept_only_an_exact_configured_secret() -> None:
    keys = parse_keys(f"portal:{'p' * 32}")
    assert authenticate(f"Bearer {'p' * 32}", keys) == "portal"
    assert authenticate(f"bearer   {'p' * 32}", keys) == "portal"
    assert authenticate(f"Bearer {'p' * 33}", keys) == AuthRefusal(403, "this key is not accepted")
    assert authenticate(None, keys) == AuthRefusal(401, "send Authorization: Bearer <key>")
    assert isinstance(authenticate("Bearer ", keys), AuthRefusal)


@pytest.mark.integration
async def test_given_calendars_in_the_store_then_their_owners_resolve_to_their_connection(
    sqlite_url: str,
) -> None:
    await asyncio.to_thread(upgrade, sqlite_url)
    engine = create_engine(sqlite_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(connections),
                [
                    {"id": "c1", "provider": "graph", "name": "graph-main", "settings": {}},
                    {"id": "c2", "provider": "google", "name": "google-main", "settings": {}},
                ],
            )
            await conn.execute(
                sa.insert(calendars),
                [
                    {
                        "id": "cal1",
                        "connection_id": "c1",
                        "provider": "graph",
                        "owner": "Boss@Example.com",
                        "calendar": "primary",
                    },
                    {
                        "id": "cal2",
                        "connection_id": "c2",
                        "provider": "google",
                        "owner": "ada@example.com",
                        "calendar": "primary",
                    },
                ],
            )
        assert await load_known_addresses(engine) == {
            "boss@example.com": "graph-main",
            "ada@example.com": "google-main",
        }

        clock = FakeClock()
        directory = StoreDirectory({"example.com": "google-main"}, engine, refresh=60, clock=clock)
        assert resolve(["boss@example.com"], await directory()).routes == {"graph-main": ["boss@example.com"]}
        async with engine.begin() as conn:
            await conn.execute(sa.delete(calendars).where(calendars.c.id == "cal1"))
        assert "boss@example.com" in (await directory()).known  # reused within the refresh period
        clock.advance(60)
        assert "boss@example.com" not in (await directory()).known  # read again after it
    finally:
        await engine.dispose()


@pytest.mark.integration
async def test_given_the_store_fails_then_the_directory_keeps_the_last_owners_it_read(
    sqlite_url: str,
) -> None:
    await asyncio.to_thread(upgrade, sqlite_url)
    engine = create_engine(sqlite_url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(connections).values(id="c1", provider="ews", name="ews-main", settings={})
        )
        await conn.execute(
            sa.insert(calendars).values(
                id="cal1", connection_id="c1", provider="ews", owner="boss@example.com", calendar="primary"
            )
        )
    clock = FakeClock()
    directory = StoreDirectory({"example.com": "google-main"}, engine, refresh=60, clock=clock)
    assert (await directory()).known == {"boss@example.com": "ews-main"}
    async with engine.begin() as conn:
        await conn.execute(sa.text("DROP TABLE calendars"))  # the store can no longer answer
    clock.advance(60)
    assert (await directory()).known == {"boss@example.com": "ews-main"}
    assert (await directory()).domains == {"example.com": "google-main"}
    await engine.dispose()
