"""Closing a provider adapter, whichever way it closes.

Adapters hold SDK clients (HTTP sessions, token credentials, thread pools) that warn or leak when
left open. Some close with `aclose()`, some with a plain or async `close()`: everything that opened
a provider closes it through `close_provider`, so none is missed.
"""

from __future__ import annotations

import inspect

__all__ = ["close_provider"]


async def close_provider(provider: object) -> None:
    """Call the provider's `aclose()` or, lacking one, its `close()`, awaiting it if async."""
    close = getattr(provider, "aclose", None) or getattr(provider, "close", None)
    if close is None:
        return
    result = close()
    if inspect.isawaitable(result):
        await result
