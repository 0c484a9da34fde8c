"""`@odata.context`: the metadata URL Graph puts at the top of every JSON answer.

It names what the answer is, from the request's own path: a collection
(`$metadata#users('alice%40contoso.com')/events`), one entity (`.../events/$entity`), a selection
(`.../events(subject,start)/$entity`) or, for functions and actions, a typed collection
(`$metadata#Collection(event)`). Keys are percent-encoded as Graph writes them (`=` as `%3D`).
Clients never need to read it; a strict model parser must accept it as an annotation.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from sandbox.graph.routing import Call

__all__ = ["context_url", "typed_collection"]

_KEYED = {"users", "calendars", "events", "subscriptions", "calendargroups"}


def context_url(call: Call, select: Sequence[str] | None = None, *, entity: bool = False) -> str:
    parts = [part for part in call.path.split("/") if part]
    out: list[str] = []
    i = 0
    while i < len(parts):
        name = parts[i]
        if name.lower() in _KEYED and i + 1 < len(parts):
            if entity and i + 2 >= len(parts):  # the entity itself: its key is not named
                out.append(name)
                break
            out.append(f"{name}('{quote(parts[i + 1], safe='')}')")
            i += 2
            continue
        out.append(name)
        i += 1
    text = "/".join(out)
    if select:
        text += "(" + ",".join(select) + ")"
    if entity:
        text += "/$entity"
    return f"{call.link('')}/$metadata#{text}"


def typed_collection(call: Call, type_name: str) -> str:
    return f"{call.link('')}/$metadata#Collection({type_name})"
