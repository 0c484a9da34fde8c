"""Descriptions: HTML detection, unwrapping Graph's HTML documents, and the mirror note.

A mirror cannot hold its source's attendees as invitations or its conference as a live
meeting, so it shows them as text: a note after a marker line at the end of the description.
Readers cut the note off again, so the description round-trips without it.
"""

from __future__ import annotations

import html
import re

from calbridge.model import Body

__all__ = ["NOTE_MARKER", "body_from_graph", "looks_like_html", "with_note", "without_note"]

NOTE_MARKER = "-- calbridge mirror --"

_TAG = re.compile(r"</?(a|b|i|u|br|p|div|span|ul|ol|li|strong|em|hr|html|body|table|h[1-6])\b[^>]*>", re.I)
_BODY = re.compile(r"<body[^>]*>(?P<inner>.*)</body>", re.I | re.S)
_TRAILING_BREAKS = re.compile(r"(\s|<br\s*/?>)+$", re.I)


def looks_like_html(text: str) -> bool:
    """Google descriptions are plain text or an HTML fragment, without a content type."""
    return _TAG.search(text) is not None


def body_from_graph(body: dict[str, str] | None) -> Body | None:
    """A Graph `itemBody`; Exchange wraps HTML in a whole document, which is unwrapped here."""
    if not body or not (body.get("content") or "").strip():
        return None
    content = body["content"]
    if str(body.get("contentType", "text")).lower() != "html":
        return Body(content.replace("\r\n", "\n").strip())
    match = _BODY.search(content)
    inner = match.group("inner") if match else content
    return Body(inner.strip(), html=True)


def with_note(body: Body | None, lines: list[str]) -> Body | None:
    """`body` with the mirror note (one entry per line) appended; unchanged when there is nothing to say."""
    if not lines:
        return body
    if body is not None and body.html:
        note = "<br>".join(html.escape(line) for line in lines)
        return Body(f"{body.content}<hr><p>{html.escape(NOTE_MARKER)}<br>{note}</p>", html=True)
    head = f"{body.content}\n\n" if body is not None and body.content.strip() else ""
    return Body(head + "\n".join([NOTE_MARKER, *lines]))


def without_note(body: Body | None) -> Body | None:
    """`body` with a mirror note cut off (a person's description never contains the marker)."""
    if body is None:
        return None
    marker = html.escape(NOTE_MARKER) if body.html else NOTE_MARKER
    at = body.content.rfind(marker)
    if at < 0:
        return body
    head = body.content[:at]
    if body.html:
        hr = head.lower().rfind("<hr")
        head = head[:hr] if hr >= 0 else head
        head = _TRAILING_BREAKS.sub("", re.sub(r"<p[^>]*>\s*$", "", head, flags=re.I))
    head = head.strip()
    return Body(head, html=body.html) if head else None
