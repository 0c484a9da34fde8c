"""What Exchange does to the content an app writes, before anyone reads it back.

- `itemBody`: `contentType` comes back lowercased (`html`, `text`); HTML is stored as a whole
  document, `<html>\\r\\n<head>\\r\\n<meta ...>\\r\\n</head>\\r\\n<body>\\r\\n...`, with `\\r\\n`
  line ends, however little markup was sent. A client that compares what it wrote with what it
  reads back sees a difference it must not take for an edit.
- A Teams meeting (`isOnlineMeeting` with provider `teamsForBusiness`) gets a join URL in
  `onlineMeeting.joinUrl`, a join block appended to its body (a rule of underscores, "Microsoft
  Teams meeting", the link, meeting id and passcode) and, when it has no place, the location
  "Microsoft Teams Meeting". The block's markup here is the sandbox's own; its text and shape are
  what clients meet in real bodies.
- `location`: Exchange fills `locationType`, `uniqueId` and `uniqueIdType`; `locations` always
  mirrors `location`.
- `bodyPreview`: the body as text, lines ended by `\\r\\n`, at most 255 characters.
"""

from __future__ import annotations

import html
import random
import re
from typing import Any
from urllib.parse import quote

__all__ = [
    "TEAMS_LOCATION",
    "body_preview",
    "join_url",
    "location_pair",
    "normalize_body",
    "with_teams_block",
]

_META = '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
_HEAD = f"<html>\r\n<head>\r\n{_META}\r\n</head>\r\n"
_RULE = '<div style="width:100%">' + "_" * 80 + "</div>\r\n"
TEAMS_LOCATION = "Microsoft Teams Meeting"
_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"


def _crlf(text: str) -> str:
    return re.sub(r"\r?\n", "\r\n", text)


def _document(inner: str) -> str:
    return f"{_HEAD}<body>\r\n{_crlf(inner)}\r\n</body>\r\n</html>\r\n"


def normalize_body(value: Any) -> dict[str, str]:
    """An `itemBody` as Exchange stores it (contentType lowercased, HTML as a whole document)."""
    if not isinstance(value, dict):
        return {"contentType": "text", "content": ""}
    kind = str(value.get("contentType") or "text").lower()
    content = str(value.get("content") or "")
    if kind != "html":
        return {"contentType": "text", "content": content}
    if re.search(r"<html[\s>]", content, re.IGNORECASE):
        return {"contentType": "html", "content": _crlf(content)}
    return {"contentType": "html", "content": _document(content)}


def _inner_html(body: dict[str, str]) -> str:
    """The markup inside <body>, a text body escaped as HTML."""
    if body.get("contentType") != "html":
        return html.escape(body.get("content", "")).replace("\n", "<br>\n")
    found = re.search(r"<body[^>]*>(.*)</body>", body.get("content", ""), re.IGNORECASE | re.DOTALL)
    return (found.group(1) if found else body.get("content", "")).strip("\r\n")


def join_url(rng: random.Random, tenant_id: str, organizer_id: str) -> str:
    thread = "".join(rng.choice(_ALNUM) for _ in range(48))
    context = quote(f'{{"Tid":"{tenant_id}","Oid":"{organizer_id}"}}', safe="").lower()
    return f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0?context={context}"


def with_teams_block(body: dict[str, str], url: str, rng: random.Random) -> dict[str, str]:
    """The body with the Teams join block appended (an HTML document, whatever it was)."""
    meeting = " ".join(str(rng.randrange(100, 1000)) for _ in range(4))
    passcode = "".join(rng.choice(_ALNUM) for _ in range(6))
    block = (
        f"{_RULE}<div>\r\n<div><span>Microsoft Teams meeting</span></div>\r\n"
        "<div><b>Join on your computer, mobile app or room device</b></div>\r\n"
        f'<a href="{html.escape(url)}">Click here to join the meeting</a>\r\n'
        f"<div>Meeting ID: <span>{meeting}</span><br>\r\nPasscode: <span>{passcode}</span></div>\r\n"
        '<div><a href="https://aka.ms/JoinTeamsMeeting">Learn More</a></div>\r\n'
        f"</div>\r\n{_RULE}"
    )
    inner = _inner_html(body)
    return {"contentType": "html", "content": _document(f"{inner}<br>\r\n{block}" if inner else block)}


def body_preview(body: dict[str, str]) -> str:
    """The body as Exchange previews it: text, tags gone, `\\r\\n` between lines, 255 at most."""
    text = body.get("content", "")
    if body.get("contentType") == "html":
        text = re.sub(r"<head>.*?</head>", "", text, flags=re.IGNORECASE | re.DOTALL)
        text = re.sub(r"<br\s*/?>|</div>|</p>", "\n", text, flags=re.IGNORECASE)
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\r\n".join(line for line in lines if line)[:255]


def location_pair(value: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`location` and `locations` as Exchange fills them from a written location."""
    name = str((value or {}).get("displayName") or "") if isinstance(value, dict) else ""
    if not name:
        empty = {"displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": {},
                 "coordinates": {}}  # fmt: skip
        return empty, []
    shaped: dict[str, Any] = {
        "displayName": name,
        "locationType": str(value.get("locationType") or "default"),
        "uniqueId": str(value.get("uniqueId") or name),
        "uniqueIdType": str(value.get("uniqueIdType") or "private"),
    }
    for extra in ("address", "coordinates", "locationUri", "locationEmailAddress"):
        if value.get(extra):
            shaped[extra] = value[extra]
    return shaped, [dict(shaped)]
