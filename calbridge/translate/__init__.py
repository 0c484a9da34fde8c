"""Provider JSON <-> `calbridge.model.Event`, as pure functions (no I/O).

`google`, `graph` and `ews` hold one provider each; `recurrence`, `zones`, `text`, `stamps` and
`mirror` are the shared pieces. Errors: `UnsupportedRecurrence`, `UnknownTimeZone`.
"""

from calbridge.translate.errors import TranslationError, UnknownTimeZone, UnsupportedRecurrence
from calbridge.translate.ews import ews_fields, fetched_from_ews
from calbridge.translate.google import fetched_from_google, google_body
from calbridge.translate.graph import fetched_from_graph, graph_body

__all__ = [
    "TranslationError",
    "UnknownTimeZone",
    "UnsupportedRecurrence",
    "ews_fields",
    "fetched_from_ews",
    "fetched_from_google",
    "fetched_from_graph",
    "google_body",
    "graph_body",
]
