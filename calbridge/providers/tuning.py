"""The adapters' tuning knobs as read from settings, for whoever builds adapters (the registry):
`GoogleCalendar.connect(info, **google_options(settings))`, and the same for Graph with one
`MailboxLimits` shared by every Graph adapter of the process."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from calbridge.providers.limits import MailboxLimits
from calbridge.settings import Settings

__all__ = ["google_options", "graph_options"]


def google_options(settings: Settings) -> dict[str, Any]:
    return {"threads": settings.google_threads, "timeout": settings.provider_timeout}


def graph_options(settings: Settings, limits: MailboxLimits | None = None) -> dict[str, Any]:
    return {
        "timeout": settings.provider_timeout,
        "limits": limits or MailboxLimits(settings.graph_mailbox_concurrency),
        "past": timedelta(days=settings.graph_window_past_days),
        "ahead": timedelta(days=settings.graph_window_ahead_days),
    }
