"""Who a real Google would have mailed for a write: the decision, apart from any state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["recipients_to_mail"]


def recipients_to_mail(
    attendees: Iterable[dict[str, Any]],
    organizer: str,
    send_updates: str | None,
    internal_domains: Iterable[str],
) -> int:
    """How many attendees Google would mail: `all` mails every guest but the organizer,
    `externalOnly` only guests outside the Workspace domains, `none` / unset nobody."""
    if send_updates not in {"all", "externalOnly"}:
        return 0
    domains = {d.lower() for d in internal_domains}
    guests = [
        a["email"].lower()
        for a in attendees
        if a.get("email") and a["email"].lower() != organizer.lower() and not a.get("resource")
    ]
    if send_updates == "externalOnly":
        guests = [g for g in guests if g.rsplit("@", 1)[-1] not in domains]
    return len(guests)
