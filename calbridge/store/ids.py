"""Ids typed by a person: the whole id, or any prefix of it that names exactly one row.

Ids are long (a dead letter's is 32 hex characters) and tables shorten them to fit a terminal,
so every command that takes an id accepts what the table showed. The rule is git's: an id equal
to the text wins (an id that is a prefix of another stays reachable); otherwise the one id
starting with the text; several are refused with the candidates listed, so the person can add
characters. One function for every kind of id, so dead letters and pairs behave alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import takewhile

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from calbridge.errors import CalbridgeError

__all__ = ["AmbiguousId", "complete_id", "pick_id", "shortest_prefixes"]

_LISTED = 5  # candidates named in the refusal of an ambiguous prefix


class AmbiguousId(CalbridgeError):
    """Several ids start with the text a person gave; the message lists some of them."""

    def __init__(self, text: str, what: str, candidates: Sequence[str]) -> None:
        named = ", ".join(candidates[:_LISTED])
        more = f" and {len(candidates) - _LISTED} more" if len(candidates) > _LISTED else ""
        super().__init__(
            f"{len(candidates)} {what} ids start with {text!r} ({named}{more}); give more characters"
        )
        self.candidates = list(candidates)


def pick_id(text: str, candidates: Iterable[str], what: str) -> str | None:
    """The id `text` names among `candidates` (pure): itself, or the only one starting with it;
    None when none does. Several raise AmbiguousId."""
    matching = sorted({c for c in candidates if text and c.startswith(text)})
    if text in matching:
        return text
    if len(matching) > 1:
        raise AmbiguousId(text, what, matching)
    return matching[0] if matching else None


async def complete_id(conn: AsyncConnection, column: sa.Column[str], text: str, what: str) -> str | None:
    """`pick_id` over the ids of `column` that start with `text` (compared exactly: LIKE would
    ignore case on SQLite, and pair ids are mixed case)."""
    if not text:
        return None
    query = sa.select(column).where(sa.func.substr(column, 1, len(text)) == text)
    found = (await conn.execute(query)).scalars().all()
    return pick_id(text, found, what)


def shortest_prefixes(ids: Iterable[str], minimum: int = 8) -> dict[str, str]:
    """For each id, its shortest prefix of at least `minimum` characters that no other id shares
    (the whole id when it is that short), the form a table shows and `complete_id` accepts."""
    ordered = sorted(set(ids))
    shortest: dict[str, str] = {}
    for index, value in enumerate(ordered):
        # In sorted order the longest prefix an id shares is with one of its neighbours.
        neighbours = ordered[max(index - 1, 0) : index] + ordered[index + 1 : index + 2]
        shared = max((_shared_length(value, n) for n in neighbours), default=0)
        shortest[value] = value[: max(minimum, shared + 1)]
    return shortest


def _shared_length(a: str, b: str) -> int:
    return sum(1 for _ in takewhile(lambda pair: pair[0] == pair[1], zip(a, b, strict=False)))
