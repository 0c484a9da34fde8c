"""Provider JSON <-> `calbridge.model.Event`, as pure functions (no I/O).

`google` and `graph` hold one provider each; `recurrence`, `zones`, `text`, `stamps` and
`mirror` are the shared pieces. Errors: `UnsupportedRecurrence`, `UnknownTimeZone`.
"""

from calbridge.translate.errors import TranslationError, UnknownTimeZone, UnsupportedRecurrence
from calbridge.translate.google import fetched_from_google, google_body
from calbridge.translate.graph import fetched_from_graph, graph_body

__all__ = [
    "TranslationError",
    "UnknownTimeZone",
    "UnsupportedRecurrence",
    "fetched_from_google",
    "fetched_from_graph",
    "google_body",
    "graph_body",
]
