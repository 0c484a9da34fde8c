"""Translation pieces every provider shares, as pure functions (no I/O).

Each provider's own mapping (provider JSON <-> `calbridge.model.Event`) lives in its slice,
`calbridge.providers.<name>.translate`; here are the shared pieces: `recurrence` (the
provider-neutral recurrence model), `zones`, `text`, `stamps` and `mirror`. Errors:
`UnsupportedRecurrence`, `UnknownTimeZone`.
"""

from calbridge.translate.errors import TranslationError, UnknownTimeZone, UnsupportedRecurrence

__all__ = ["TranslationError", "UnknownTimeZone", "UnsupportedRecurrence"]
