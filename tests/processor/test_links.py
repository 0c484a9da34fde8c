"""The link repository on SQLite and PostgreSQL: links round-trip, a new link replaces the
tombstone that names the same event, cursors are kept per calendar with the time their read
began, and links are listed by when they were saved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.pairs.policy import Side
from calbridge.store import create_engine
from calbridge.store.tables import calendars, connections, pairs
from processor.sync.links import StoredCursor, StoredLinks
from processor.sync.record import Link

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[AsyncEngine]:
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
    yield engine
    await engine.dispose()


@pytest.fixture
def repo(store: AsyncEngine) -> StoredLinks:
    return StoredLinks(store)


LINK = Link(Side.GOOGLE, "g1", "m1", "v1", "w1", "h1", "k1")
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


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
    await repo.save_cursor("calg", "token-1", full=True, read_at=T0)
    await repo.save_cursor("calg", "token-2", full=False, read_at=T0 + timedelta(seconds=1))
    await repo.save_cursor("calm", "delta-1", full=True, read_at=T0)
    assert await repo.load_cursor("calg") == StoredCursor("token-2", T0 + timedelta(seconds=1))
    assert await repo.load_cursor("calm") == StoredCursor("delta-1", T0)


async def test_given_a_cursor_saved_without_its_read_time_then_an_hour_before_it_was_saved_stands_in(
    store: AsyncEngine, repo: StoredLinks
) -> None:
    # Given a cursor stored by an older version (no read time)
    await StoredLinks(store, now=lambda: T0).save_cursor("calg", "token", full=False)
    # Then its read is taken to have begun an hour before it was saved: links saved since are checked
    assert await repo.load_cursor("calg") == StoredCursor("token", T0 - timedelta(hours=1))


async def test_given_links_saved_over_time_then_the_mirrors_saved_since_a_time_are_listed_per_side(
    store: AsyncEngine, repo: StoredLinks
) -> None:
    times = [T0 + timedelta(seconds=10 * n) for n in range(6)]
    clock = iter(times)
    timed = StoredLinks(store, now=lambda: next(clock))
    await timed.save("p1", Link(Side.GOOGLE, "g1", "m1"))  # T0: before the cut
    await timed.save("p1", Link(Side.GOOGLE, "g2", "m2"))  # +10 s: a mirror on Microsoft
    await timed.save("p1", Link(Side.MICROSOFT, "g3", "m3", deleted=True))  # +20 s: a tombstone
    await timed.save("p1", Link(Side.MICROSOFT, "g4", "m4"))  # +30 s: a mirror on Google
    await timed.save("p1", Link(Side.GOOGLE, "g5", None))  # +40 s: an intent, no mirror yet
    since = T0 + timedelta(seconds=10)
    assert await repo.linked_saved_since("p1", Side.MICROSOFT, since) == {"m2"}
    assert await repo.linked_saved_since("p1", Side.GOOGLE, since) == {"g4"}
    assert await repo.linked_saved_since("p1", Side.MICROSOFT, T0 + timedelta(seconds=11)) == set()
    # People's events too, when asked: an origin made and deleted after a cursor is netted away too
    later = T0 + timedelta(seconds=30)
    assert await repo.linked_saved_since("p1", Side.MICROSOFT, since, origins_since=later) == {"m2", "m4"}
    assert await repo.linked_saved_since("p1", Side.GOOGLE, since, origins_since=later) == {"g4", "g5"}
    assert await repo.linked_saved_since("p2", Side.GOOGLE, T0) == set()


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
