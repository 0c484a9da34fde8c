"""What translation refuses to do, as specific errors the engine can act on."""

from __future__ import annotations

from calbridge.errors import CalbridgeError

__all__ = ["TranslationError", "UnknownTimeZone", "UnsupportedRecurrence"]


class TranslationError(CalbridgeError):
    """Provider JSON or an Event cannot be mapped faithfully."""


class UnknownTimeZone(TranslationError):
    """A zone name is neither IANA nor a Windows zone known to the CLDR table."""

    def __init__(self, zone: str) -> None:
        super().__init__(f"unknown time zone {zone!r}")
        self.zone = zone


class UnsupportedRecurrence(TranslationError):
    """A Google recurrence that Graph's patternedRecurrence cannot express exactly.

    The engine answers by mirroring the series' occurrences as single events; `reason` says
    which part of the rule was not expressible (for logs and the pair's status page).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"recurrence not expressible as a Graph pattern: {reason}")
        self.reason = reason
