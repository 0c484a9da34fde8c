"""Which replica consumes which shard: a pure, stable, balanced assignment.

Every replica computes the same answer from the same member list, with no coordinator: each
shard, in order, goes to the member that ranks it highest (rendezvous hashing) among those
that still have room below the fair share (ceil(shards / members)). Rendezvous ranks keep most
shards where they were when a member joins or leaves; the cap keeps the split even, so each
added replica takes real work (what KEDA scaling is for).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence

__all__ = ["assign_shards", "shards_for"]


def _rank(member: str, shard: int) -> int:
    digest = hashlib.blake2b(f"{member}/{shard}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def assign_shards(shards: Sequence[int], members: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """Member -> the shards it consumes; every shard to exactly one member, at most ceil(S/M) each."""
    names = sorted(set(members))
    if not names:
        return {}
    cap = math.ceil(len(shards) / len(names))
    owned: dict[str, list[int]] = {name: [] for name in names}
    for shard in sorted(shards):
        ranked = sorted(names, key=lambda name: (_rank(name, shard), name), reverse=True)
        owner = next(name for name in ranked if len(owned[name]) < cap)
        owned[owner].append(shard)
    return {name: tuple(owned_shards) for name, owned_shards in owned.items()}


def shards_for(member: str, shards: Sequence[int], members: Iterable[str]) -> tuple[int, ...]:
    """The shards `member` consumes when `members` (including itself) are alive."""
    return assign_shards(shards, {*members, member}).get(member, ())
