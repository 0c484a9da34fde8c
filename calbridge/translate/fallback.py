"""What to write for a series whose rules the other side cannot hold as one pattern (pure).

Outlook and Exchange hold one pattern per series (`recurrence.graph_recurrence` says which);
RFC 5545 holds much more. For a series refused as it is, `plan_fallback` picks, per rule:

- **Split**: one RRULE whose only obstacle is a list of BYMONTHDAY, BYHOUR or BYMONTH values
  (and no BYSETPOS, which counts over the whole list) is the union of one rule per value, and
  those occurrence sets are disjoint. Each part starts at its own first occurrence; a COUNT
  becomes an UNTIL at the whole series' last occurrence, so the parts end where it ends. Exact,
  and a person still sees series in Outlook. EXDATE lines go to the part they belong to.
- **Expanded**: anything else dateutil can expand (RDATE, several RRULEs, EXRULE, BYSETPOS
  lists, BYMONTHDAY=31, BYWEEKNO, BYYEARDAY, ...) is written as its occurrences over a window
  (a rolling horizon the engine moves forward as time passes), each a single event.
- **NoFallback**: unreadable lines, or more occurrences in the window than `max_occurrences` (an
  HOURLY or MINUTELY rule): the reason is recorded as the series' event failure.

Expansion is dateutil's (`rruleset`), on wall time in the series' zone, so a 09:00 series stays
at 09:00 across daylight-saving changes, as Google expands it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr

from calbridge.translate.errors import UnsupportedRecurrence

__all__ = [
    "Expanded",
    "Fallback",
    "NoFallback",
    "Split",
    "SplitPart",
    "expand",
    "plan_fallback",
]

Moment = datetime | date
# Whether the target holds these recurrence lines for a series starting then (True) or not.
Holds = Callable[[tuple[str, ...], Moment], bool]

_SPLITTABLE = ("BYMONTHDAY", "BYHOUR", "BYMONTH")
_UNTIL = re.compile(r"UNTIL=(\d{8}(?:T\d{6}Z?)?)", re.I)


@dataclass(frozen=True, slots=True)
class SplitPart:
    """One native series of a split: its recurrence lines and its first start."""

    rules: tuple[str, ...]
    start: Moment


@dataclass(frozen=True, slots=True)
class Split:
    parts: tuple[SplitPart, ...]


@dataclass(frozen=True, slots=True)
class Expanded:
    """The occurrence starts inside the window, in order (aware, or dates for all-day)."""

    starts: tuple[Moment, ...]


@dataclass(frozen=True, slots=True)
class NoFallback:
    reason: str


Fallback = Split | Expanded | NoFallback


def plan_fallback(
    rules: tuple[str, ...],
    first: Moment,
    zone: str,
    *,
    window: tuple[datetime, datetime],
    holds: Holds,
    max_parts: int = 6,
    max_occurrences: int = 1000,
    split: bool = True,
) -> Fallback:
    """The fallback for a series starting at `first` (aware, or a date for an all-day series)
    in `zone` whose `rules` the target refused as they are. `split=False` skips the split (the
    target refused a part that `holds` accepted)."""
    parts: Split | None = None
    if split:
        try:
            parts = _split(rules, first, zone, holds, max_parts)
        except (ValueError, TypeError, UnsupportedRecurrence):
            parts = None
    if parts is not None:
        return parts
    try:
        starts = expand(rules, first, zone, window=window, limit=max_occurrences + 1)
    except (ValueError, TypeError, KeyError) as exc:
        return NoFallback(f"the recurrence cannot be read: {exc}")
    if len(starts) > max_occurrences:
        return NoFallback(
            f"more than {max_occurrences} occurrences within the horizon; too many single events"
        )
    return Expanded(starts)


def expand(
    rules: tuple[str, ...],
    first: Moment,
    zone: str,
    *,
    window: tuple[datetime, datetime],
    limit: int = 10_000,
) -> tuple[Moment, ...]:
    """The occurrence starts of a series inside `window` (both ends included), by dateutil."""
    tz = ZoneInfo(zone)
    all_day = not isinstance(first, datetime)
    dtstart = _floating(first, tz)
    rule = _ruleset(rules, dtstart, tz, all_day)
    low = window[0].astimezone(tz).replace(tzinfo=None)
    high = window[1].astimezone(tz).replace(tzinfo=None)
    if all_day:
        low = datetime.combine(window[0].astimezone(UTC).date(), time())
        high = datetime.combine(window[1].astimezone(UTC).date(), time())
    found: list[Moment] = []
    for moment in rule.xafter(low, count=limit, inc=True):
        if moment > high:
            break
        found.append(moment.date() if all_day else moment.replace(tzinfo=tz))
    return tuple(found)


# --- split


def _split(rules: tuple[str, ...], first: Moment, zone: str, holds: Holds, max_parts: int) -> Split | None:
    rrules = [line for line in rules if _name(line) == "RRULE"]
    others = [line for line in rules if _name(line) != "RRULE"]
    if len(rrules) != 1 or any(_name(line) != "EXDATE" for line in others):
        return None
    parts = _parts(rrules[0])
    if "BYSETPOS" in parts:
        return None
    listed = [key for key in _SPLITTABLE if "," in parts.get(key, "")]
    if len(listed) != 1:
        return None
    key = listed[0]
    values = parts[key].split(",")
    if len(values) > max_parts or len(set(values)) != len(values):
        return None
    if key == "BYHOUR" and not isinstance(first, datetime):
        return None
    tz = ZoneInfo(zone)
    bounded = dict(parts)
    if "COUNT" in parts:
        whole = _ruleset(tuple(rrules), _floating(first, tz), tz, not isinstance(first, datetime))
        occurrences = list(whole)
        if not occurrences:
            return None
        bounded.pop("COUNT")
        bounded["UNTIL"] = _until_text(occurrences[-1], first, tz)
    out: list[SplitPart] = []
    excluded = list(others)
    for value in values:
        piece = dict(bounded)
        piece[key] = value
        part_start = _first_of(piece, first, tz)
        if part_start is None:
            continue  # that value never occurs before the end
        if key == "BYHOUR":
            piece.pop("BYHOUR")
            if "," in piece.get("BYMINUTE", ""):
                return None
            piece.pop("BYMINUTE", None)
        line = "RRULE:" + ";".join(f"{k}={v}" for k, v in piece.items())
        mine = _exdates_for(excluded, line, part_start, zone)
        part_rules = (line, *mine)
        if not holds(part_rules, part_start):
            return None
        out.append(SplitPart(part_rules, part_start))
    if len(out) < 2:
        return None
    return Split(tuple(out))


def _first_of(parts: dict[str, str], first: Moment, tz: ZoneInfo) -> Moment | None:
    """The first occurrence of a part rule at or after the series' start."""
    all_day = not isinstance(first, datetime)
    start = _floating(first, tz)
    text = ";".join(f"{k}={v}" for k, v in parts.items())
    rule = _ruleset((f"RRULE:{text}",), start, tz, all_day)
    found: datetime | None = rule.after(start, inc=True)
    if found is None:
        return None
    return found.date() if all_day else found.replace(tzinfo=tz)


def _exdates_for(lines: list[str], rrule_line: str, start: Moment, zone: str) -> list[str]:
    """The EXDATE lines restricted to the starts this part's rule produces."""
    if not lines:
        return []
    tz = ZoneInfo(zone)
    all_day = not isinstance(start, datetime)
    rule = _ruleset((rrule_line,), _floating(start, tz), tz, all_day)
    kept: list[str] = []
    for line in lines:
        head, _, values = line.partition(":")
        mine = []
        for value in values.split(","):
            (moment,) = _dates(f"{head}:{value.strip()}", _floating(start, tz), tz, all_day)
            if rule.after(moment, inc=True) == moment:
                mine.append(value.strip())
        if mine:
            kept.append(f"{head}:{','.join(mine)}")
    return kept


def _until_text(last: datetime, first: Moment, tz: ZoneInfo) -> str:
    if not isinstance(first, datetime):
        return f"{last:%Y%m%d}"
    return f"{last.replace(tzinfo=tz).astimezone(UTC):%Y%m%dT%H%M%SZ}"


# --- parsing


def _name(line: str) -> str:
    return line.split(":", 1)[0].split(";", 1)[0].strip().upper()


def _parts(rrule_line: str) -> dict[str, str]:
    body = rrule_line.split(":", 1)[1] if ":" in rrule_line else rrule_line
    parts: dict[str, str] = {}
    for item in body.split(";"):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"malformed RRULE part {item!r}")
        parts[key.strip().upper()] = value.strip().upper()
    return parts


def _floating(first: Moment, tz: ZoneInfo) -> datetime:
    if isinstance(first, datetime):
        return first.astimezone(tz).replace(tzinfo=None)
    return datetime.combine(first, time())


def _ruleset(rules: tuple[str, ...], dtstart: datetime, tz: ZoneInfo, all_day: bool) -> rruleset:
    """dateutil's set for these lines, on floating wall time in `tz` (UNTIL and dated values
    restated there)."""
    out = rruleset()
    for line in rules:
        name = _name(line)
        if name in ("RRULE", "EXRULE"):
            text = _UNTIL.sub(
                lambda m: "UNTIL=" + _local_until(m.group(1), tz, all_day), line.split(":", 1)[1]
            )
            rule = rrulestr(text, dtstart=dtstart)
            (out.rrule if name == "RRULE" else out.exrule)(rule)
        elif name in ("RDATE", "EXDATE"):
            for moment in _dates(line, dtstart, tz, all_day):
                (out.rdate if name == "RDATE" else out.exdate)(moment)
        else:
            raise ValueError(f"unknown recurrence line {name}")
    return out


def _local_until(value: str, tz: ZoneInfo, all_day: bool) -> str:
    if len(value) == 8:
        day = datetime.strptime(value, "%Y%m%d")
        return (
            f"{day:%Y%m%d}" if all_day else f"{day + timedelta(days=1) - timedelta(seconds=1):%Y%m%dT%H%M%S}"
        )
    if value.upper().endswith("Z"):
        instant = datetime.strptime(value.upper(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if all_day:
            return f"{instant:%Y%m%d}"
        return f"{instant.astimezone(tz):%Y%m%dT%H%M%S}"
    return value


def _dates(line: str, dtstart: datetime, tz: ZoneInfo, all_day: bool) -> list[datetime]:
    head, sep, values = line.partition(":")
    if not sep:
        raise ValueError(f"no values in {line!r}")
    params = dict(p.split("=", 1) for p in head.split(";")[1:] if "=" in p)
    value_zone = ZoneInfo(params["TZID"]) if "TZID" in params else tz
    found: list[datetime] = []
    for raw in values.split(","):
        raw = raw.strip().split("/", 1)[0]
        if len(raw) == 8:
            day = datetime.strptime(raw, "%Y%m%d")
            moment = day if all_day else day.replace(hour=dtstart.hour, minute=dtstart.minute)
        elif raw.upper().endswith("Z"):
            instant = datetime.strptime(raw.upper(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            moment = instant.astimezone(tz).replace(tzinfo=None)
        else:
            local = datetime.strptime(raw, "%Y%m%dT%H%M%S").replace(tzinfo=value_zone)
            moment = local.astimezone(tz).replace(tzinfo=None)
        if all_day:
            moment = datetime(moment.year, moment.month, moment.day)
        found.append(moment)
    return found
