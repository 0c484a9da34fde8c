"""The link repository on SQLite and PostgreSQL: links round-trip, a new link replaces the
tombstone that names the same event, and cursors are kept per calendar."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from calbridge.pairs.policy import Side
from calbridge.store import create_engine
from calbridge.store.tables import calendars, connections, pairs
from processor.sync.links import StoredLinks
from processor.sync.record import Link

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
async def repo(database_url: str) -> AsyncIterator[StoredLinks]:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(sa.insert(connections).values(id="c1", provider="google", name="g", settings={}))
        await conn.execute(sa.insert(connections).values(id="c2", provider="graph", name="m", settings={}))
        await conn.execute(
            sa.insert(calendars),
            [
                {
                    "id": "calg",
                    "connection_id": "c1",
                    "provider": "google",
                    "owner": "a",
                    "calendar": "primary",
                },
                {
                    "id": "calm",
                    "connection_id": "c2",
                    "provider": "graph",
                    "owner": "a",
                    "calendar": "primary",
                },
            ],
        )
        await conn.execute(
            sa.insert(pairs).values(id="p1", google_calendar_id="calg", microsoft_calendar_id="calm")
        )
    yield StoredLinks(engine)
    await engine.dispose()


LINK = Link(Side.GOOGLE, "g1", "m1", "v1", "w1", "h1", "k1")


async def test_given_a_saved_link_when_found_from_either_side_then_it_round_trips(repo: StoredLinks) -> None:
    saved = await repo.save("p1", LINK)
    assert saved.row_id is not None
    assert await repo.find("p1", Side.GOOGLE, "g1") == LINK
    assert await repo.find("p1", Side.MICROSOFT, "m1") == LINK
    assert await repo.find("p1", Side.MICROSOFT, "g1") is None


async def test_given_a_link_when_updated_by_row_then_versions_change_in_place(repo: StoredLinks) -> None:
    saved = await repo.save("p1", LINK)
    newer = saved.with_side(Side.MICROSOFT, "m1", "w2", "k2")
    await repo.save("p1", newer)
    found = await repo.find("p1", Side.GOOGLE, "g1")
    assert found is not None and found.microsoft_version == "w2" and found.row_id == saved.row_id
    assert await repo.count_live("p1") == 1


async def test_given_a_tombstone_when_the_event_is_linked_anew_then_the_new_link_replaces_it(
    repo: StoredLinks,
) -> None:
    await repo.save("p1", LINK.as_deleted())
    assert await repo.count_live("p1") == 0
    fresh = Link(Side.GOOGLE, "g1", "m7", "v3", "w3")
    await repo.save("p1", fresh)
    found = await repo.find("p1", Side.GOOGLE, "g1")
    assert found == fresh
    assert await repo.find("p1", Side.MICROSOFT, "m1") is None
    assert await repo.live_ids("p1", Side.MICROSOFT) == {"m7"}


async def test_given_an_intent_without_target_when_completed_then_one_live_link(repo: StoredLinks) -> None:
    intent = await repo.save("p1", Link(Side.GOOGLE, google_id="g2", google_version="v1"))
    await repo.save("p1", intent.with_side(Side.MICROSOFT, "m2", "w1", "k"))
    assert await repo.count_live("p1") == 1
    assert await repo.live_ids("p1", Side.GOOGLE) == {"g2"}


async def test_given_cursors_when_saved_then_each_calendar_keeps_its_own(repo: StoredLinks) -> None:
    assert await repo.load_cursor("calg") is None
    await repo.save_cursor("calg", "token-1", full=True)
    await repo.save_cursor("calg", "token-2", full=False)
    await repo.save_cursor("calm", "delta-1", full=True)
    assert await repo.load_cursor("calg") == "token-2"
    assert await repo.load_cursor("calm") == "delta-1"


async def test_given_saved_links_when_found_many_then_each_listed_id_maps_to_its_link(
    repo: StoredLinks,
) -> None:
    await repo.save("p1", LINK)
    await repo.save("p1", Link(Side.MICROSOFT, None, "m2", None, "w2", None, "k2"))
    found = await repo.find_many("p1", Side.MICROSOFT, ["m1", "m2", "m3"])
    assert found == {"m1": LINK, "m2": Link(Side.MICROSOFT, None, "m2", None, "w2", None, "k2")}
    assert await repo.find_many("p1", Side.GOOGLE, []) == {}


async def test_given_a_saved_link_when_saved_again_by_row_then_it_updates_in_place(repo: StoredLinks) -> None:
    intent = await repo.save("p1", Link(Side.GOOGLE, "g1", None, "v1", None, "h1", None))
    final = await repo.save("p1", intent.with_side(Side.MICROSOFT, "m1", "w1", "k1"))
    assert final.row_id == intent.row_id
    assert await repo.find("p1", Side.MICROSOFT, "m1") == final
    assert await repo.count_live("p1") == 1
