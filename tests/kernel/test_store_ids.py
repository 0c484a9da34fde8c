"""Ids typed by a person: the whole id or an unambiguous prefix, alike for every kind of id."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.store.engine import create_engine
from calbridge.store.ids import AmbiguousId, complete_id, pick_id, shortest_prefixes
from calbridge.store.tables import connections

IDS = ["fc7024aa01", "fc7024bb02", "0a11ce5e00", "0a11"]


def test_given_a_unique_prefix_then_it_names_its_id() -> None:
    assert pick_id("fc7024a", IDS, "thing") == "fc7024aa01"
    assert pick_id("0a11c", IDS, "thing") == "0a11ce5e00"


def test_given_a_whole_id_that_prefixes_another_then_the_whole_id_wins() -> None:
    assert pick_id("0a11", IDS, "thing") == "0a11"


def test_given_a_prefix_of_several_then_it_is_refused_naming_them() -> None:
    with pytest.raises(AmbiguousId) as refused:
        pick_id("fc7024", IDS, "dead-lettered change event")
    assert refused.value.candidates == ["fc7024aa01", "fc7024bb02"]
    assert str(refused.value) == (
        "2 dead-lettered change event ids start with 'fc7024' (fc7024aa01, fc7024bb02); give more characters"
    )


def test_given_many_candidates_then_five_are_named_and_the_rest_counted() -> None:
    with pytest.raises(AmbiguousId, match=r"\(a0, a1, a2, a3, a4 and 3 more\)"):
        pick_id("a", [f"a{n}" for n in range(8)], "pair")


def test_given_no_match_or_nothing_typed_then_none() -> None:
    assert pick_id("ffff", IDS, "thing") is None
    assert pick_id("", IDS, "thing") is None


def test_shortest_prefixes_are_unique_at_least_eight_long_and_accepted_back() -> None:
    ids = ["fc7024aa01ffff", "fc7024aa02ffff", "0123456789abcdef", "0a11"]
    short = shortest_prefixes(ids)
    assert short == {
        "fc7024aa01ffff": "fc7024aa01",
        "fc7024aa02ffff": "fc7024aa02",
        "0123456789abcdef": "01234567",
        "0a11": "0a11",
    }
    assert all(pick_id(prefix, ids, "thing") == whole for whole, prefix in short.items())


@pytest.fixture
async def store(database_url: str) -> AsyncEngine:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        for key in ("abCD0001", "aBCD0002", "xy%_0003"):
            await conn.execute(connections.insert().values(id=key, provider="google", name=key, settings={}))
    return engine


@pytest.mark.integration
async def test_prefixes_compare_exactly_on_both_engines(store: AsyncEngine) -> None:
    # Given ids that differ only in case after two characters, and one with LIKE's wildcards
    async with store.connect() as conn:
        # When completed, case matters (SQLite's LIKE would ignore it) and wildcards are literal
        assert await complete_id(conn, connections.c.id, "ab", "connection") == "abCD0001"
        assert await complete_id(conn, connections.c.id, "aB", "connection") == "aBCD0002"
        assert await complete_id(conn, connections.c.id, "xy%_", "connection") == "xy%_0003"
        assert await complete_id(conn, connections.c.id, "x_", "connection") is None
        with pytest.raises(AmbiguousId):
            await complete_id(conn, connections.c.id, "a", "connection")
    await store.dispose()
