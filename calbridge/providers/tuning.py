"""The adapters' tuning knobs as read from settings, for whoever builds adapters (the registry):
`GoogleCalendar.connect(info, **google_options(settings))`, and the same for Graph with one
`MailboxLimits` shared by every Graph adapter of the process.

Every adapter the registry opens also shares the process's one `Pacing` (`shared_pacing`):
providers throttle per user or mailbox whatever connection object made the call, so the gate of
a throttled mailbox must be one for the whole process.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from calbridge.providers.limits import MailboxLimits
from calbridge.providers.pacing import Pacing
from calbridge.settings import Settings

__all__ = ["google_options", "graph_options", "shared_pacing"]

_pacing: list[Pacing] = []  # the process's one Pacing, made on first use


def shared_pacing(settings: Settings) -> Pacing:
    """The process's Pacing (its patience from the first settings that asked for it)."""
    if not _pacing:
        _pacing.append(Pacing(settings.throttle_patience))
    return _pacing[0]


def google_options(settings: Settings, pacing: Pacing | None = None) -> dict[str, Any]:
    return {
        "threads": settings.google_threads,
        "timeout": settings.provider_timeout,
        "pacing": pacing or shared_pacing(settings),
    }


def graph_options(
    settings: Settings, limits: MailboxLimits | None = None, pacing: Pacing | None = None
) -> dict[str, Any]:
    return {
        "timeout": settings.provider_timeout,
        "limits": limits or MailboxLimits(settings.graph_mailbox_concurrency),
        "pacing": pacing or shared_pacing(settings),
        "past": timedelta(days=settings.graph_window_past_days),
        "ahead": timedelta(days=settings.graph_window_ahead_days),
    }
