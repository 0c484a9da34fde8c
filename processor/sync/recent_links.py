"""The links this process saved last, kept so that the echo check needs no store read.

Every write the processor makes comes back as a notification naming the event and the version
we wrote (`echoes`). Its link was saved by this process moments before, so the consumer looks
there first. A remembered link can only be older than the stored one (another replica may have
saved since), and a hint that names a version we recorded tells nothing new whichever link
recorded it; so a match is always safe to skip, and no match falls back to the store.
"""

from __future__ import annotations

from collections import OrderedDict

from calbridge.pairs.policy import Side
from processor.sync.links import ForwardingLinks, LinkRepository
from processor.sync.record import Link

__all__ = ["RecentLinks"]

_Key = tuple[str, Side, str]


class RecentLinks(ForwardingLinks):
    """A LinkRepository that remembers the last `capacity` links it saved, by each of their ids."""

    def __init__(self, links: LinkRepository, capacity: int = 20_000) -> None:
        super().__init__(links)
        self._capacity = capacity
        self._saved: OrderedDict[_Key, Link] = OrderedDict()

    def recalled(self, pair_id: str, side: Side, event_id: str) -> Link | None:
        """The link this process last saved naming `event_id` on `side`, if it still remembers."""
        return self._saved.get((pair_id, side, event_id))

    async def save(self, pair_id: str, link: Link) -> Link:
        saved = await self._links.save(pair_id, link)
        for side in Side:
            if (event_id := saved.id_on(side)) is not None:
                key = (pair_id, side, event_id)
                self._saved[key] = saved
                self._saved.move_to_end(key)
        while len(self._saved) > self._capacity:
            self._saved.popitem(last=False)
        return saved
