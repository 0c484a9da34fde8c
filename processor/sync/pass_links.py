"""The links one pass works with, read in one query per side and remembered for that pass.

Planning a change looks its link up by the change's id, by its stamp's source and by its
series; the breaker's look-ahead plans every change once before applying, and a create checks
for an earlier attempt: about three look-ups per change, each a database round trip. `PassLinks`
reads the links the page's changes can name in one query per side (`find_many`), answers
later look-ups from that, and keeps what this pass saves. It lives for one pass only, like the
plan look-ahead whose reads it shares, and every save still goes to the store at once (the
engine's crash safety depends on it).
"""

from __future__ import annotations

from collections.abc import Iterable

from calbridge.pairs.policy import Policy, Side
from calbridge.providers.base import Change, Fetched
from processor.sync.links import ForwardingLinks, LinkRepository
from processor.sync.plan import change_id, owns
from processor.sync.record import Link

__all__ = ["PassLinks", "wanted_ids"]

_Key = tuple[str, Side, str]


def wanted_ids(policy: Policy, side: Side, changes: Iterable[Change]) -> dict[Side, set[str]]:
    """The event ids, per side, whose links planning `changes` (seen on `side`) may look up."""
    wanted: dict[Side, set[str]] = {Side.GOOGLE: set(), Side.MICROSOFT: set()}
    for change in changes:
        wanted[side].add(change_id(change))
        if isinstance(change, Fetched):
            if change.stamp is not None and owns(policy, change.stamp):
                wanted[side.other].add(change.stamp.source_id)
            if change.event.instance_of is not None:
                wanted[side].add(change.event.instance_of.master_id)
    return wanted


class PassLinks(ForwardingLinks):
    """A LinkRepository for one pass: look-ups remembered, saves written through."""

    def __init__(self, links: LinkRepository) -> None:
        super().__init__(links)
        self._known: dict[_Key, Link | None] = {}
        # For each id a known link names, the keys it is known under: a save finds the links it
        # replaces here instead of scanning every key (a pass may know thousands).
        self._holders: dict[_Key, set[_Key]] = {}

    def _remember(self, key: _Key, link: Link | None) -> None:
        self._known[key] = link
        if link is not None:
            for side in Side:
                if (event_id := link.id_on(side)) is not None:
                    self._holders.setdefault((key[0], side, event_id), set()).add(key)

    async def prefetch(self, pair_id: str, wanted: dict[Side, set[str]]) -> None:
        """Read every link naming one of the `wanted` ids in one query per side."""
        for side, ids in wanted.items():
            missing = sorted(event_id for event_id in ids if (pair_id, side, event_id) not in self._known)
            if not missing:
                continue
            found = await self._links.find_many(pair_id, side, missing)
            for event_id in missing:
                self._remember((pair_id, side, event_id), found.get(event_id))

    async def find(self, pair_id: str, side: Side, event_id: str) -> Link | None:
        key = (pair_id, side, event_id)
        if key not in self._known:
            self._remember(key, await self._links.find(pair_id, side, event_id))
        return self._known[key]

    async def find_many(self, pair_id: str, side: Side, event_ids: Iterable[str]) -> dict[str, Link]:
        ids = set(event_ids)
        await self.prefetch(pair_id, {side: ids, side.other: set()})
        return {i: link for i in ids if (link := self._known[(pair_id, side, i)]) is not None}

    async def save(self, pair_id: str, link: Link) -> Link:
        saved = await self._links.save(pair_id, link)
        # The store dropped every other link naming either id; so does the memo.
        names = [(pair_id, side, event_id) for side in Side if (event_id := saved.id_on(side)) is not None]
        for name in names:
            for key in self._holders.pop(name, ()):
                known = self._known.get(key)  # the index may be stale: check the link still names it
                if known is not None and known.id_on(name[1]) == name[2]:
                    self._known[key] = None
        for name in names:
            self._remember(name, saved)
        return saved
