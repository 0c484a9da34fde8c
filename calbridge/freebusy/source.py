"""The one Protocol each provider's free/busy call is reached through.

`query` receives at most the provider's batch limit of addresses and a window no longer than
the provider accepts (its profile's `freebusy` limits); `start` and `end` are aware and carry the
requested zone, in which the source asks the provider to express times (and so all-day blocks).
It answers every address it was given, with busy blocks (unmerged, unclipped) or an error, and
raises `Throttled`, `AccessDenied` or another `ProviderError` when the whole call failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from calbridge.events import Provider
from calbridge.freebusy.types import LookupOutcome

__all__ = ["FreeBusySource"]


class FreeBusySource(Protocol):
    @property
    def provider(self) -> Provider: ...

    async def query(
        self, addresses: Sequence[str], start: datetime, end: datetime
    ) -> Mapping[str, LookupOutcome]:
        """Busy blocks or an error for each address; raises ProviderError if the call failed."""
        ...
