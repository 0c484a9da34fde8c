"""RecentLinks: the echo check answered from the links this process saved, bounded, never wrong."""

from __future__ import annotations

from calbridge.pairs.policy import Side
from processor.sync.memory_links import MemoryLinks
from processor.sync.recent_links import RecentLinks
from processor.sync.record import Link


async def test_given_a_saved_link_when_recalled_by_either_id_then_it_is_the_saved_one() -> None:
    store = MemoryLinks()
    links = RecentLinks(store)
    saved = await links.save("p", Link(Side.GOOGLE, "g1", "m1", microsoft_version="ck1"))
    assert links.recalled("p", Side.GOOGLE, "g1") == saved
    assert links.recalled("p", Side.MICROSOFT, "m1") == saved
    assert links.recalled("other-pair", Side.MICROSOFT, "m1") is None
    assert await store.find("p", Side.MICROSOFT, "m1") == saved  # written through


async def test_given_a_newer_save_when_recalled_then_the_newest_link_answers() -> None:
    links = RecentLinks(MemoryLinks())
    await links.save("p", Link(Side.GOOGLE, "g1", "m1", microsoft_version="ck1"))
    newer = await links.save("p", Link(Side.GOOGLE, "g1", "m1", microsoft_version="ck2"))
    assert links.recalled("p", Side.MICROSOFT, "m1") == newer


async def test_given_more_saves_than_the_capacity_then_the_oldest_are_forgotten() -> None:
    links = RecentLinks(MemoryLinks(), capacity=4)
    for n in range(3):
        await links.save("p", Link(Side.GOOGLE, f"g{n}", f"m{n}"))
    # 6 keys for 3 links: the first link's keys went first
    assert links.recalled("p", Side.GOOGLE, "g0") is None
    assert links.recalled("p", Side.GOOGLE, "g2") is not None
    assert links.recalled("p", Side.MICROSOFT, "m1") is not None
