"""The Graph adapter's cursor: the delta link, plus the series it has seen (pure).

calendarView delta never lists series masters, and when a person deletes a whole series it
reports only its occurrences as `@removed`, under opaque ids that do not name the series. So the
cursor remembers the series masters seen in the window; when a round brings removals that a GET
confirms, the adapter checks those masters and reports the ones that are gone.

A cursor without series is the bare delta link, so a stored plain link stays valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

__all__ = ["MAX_SERIES", "GraphCursor"]

MAX_SERIES = 400  # a bigger calendar falls back to the engine's full-read absence check


@dataclass(frozen=True, slots=True)
class GraphCursor:
    delta_link: str
    series: frozenset[str] = field(default_factory=frozenset)

    def encode(self) -> str:
        if not self.series:
            return self.delta_link
        kept = sorted(self.series)[:MAX_SERIES]
        return orjson.dumps({"delta": self.delta_link, "series": kept}).decode()

    @classmethod
    def decode(cls, text: str) -> GraphCursor:
        if not text.startswith("{"):
            return cls(text)
        value = orjson.loads(text)
        return cls(str(value["delta"]), frozenset(str(s) for s in value.get("series") or []))
