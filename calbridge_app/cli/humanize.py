"""Times as a person reads them in a table: "in 3d 4h", "2m ago", "just now"."""

from __future__ import annotations

from datetime import datetime

__all__ = ["relative", "span"]


def span(seconds: float) -> str:
    """The two largest units of a duration: 3d 4h, 5h 12m, 7m, 40s."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def relative(when: datetime | None, now: datetime, never: str = "never") -> str:
    if when is None:
        return never
    delta = (when - now).total_seconds()
    if abs(delta) < 5:
        return "just now"
    return f"in {span(delta)}" if delta > 0 else f"{span(delta)} ago"
