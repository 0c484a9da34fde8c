"""Property: any RRULE, carried Google -> Graph -> Google (natively, split, or expanded), keeps
Google's occurrences inside the horizon. dateutil's own expansion of the original lines is the
oracle; the fallback and the Graph round trip are what is tested.

Given a random rule (FREQ, INTERVAL, COUNT/UNTIL, BYDAY with or without ordinals, BYMONTHDAY
lists and negatives, BYMONTH, BYSETPOS, BYHOUR lists, EXDATE, RDATE) on a timed or all-day series,
when it goes to Graph (`graph_recurrence`, or `plan_fallback` when Graph refuses it) and back
to Google (`rrule_lines`, the EXDATEs as cancelled occurrences), then the occurrence starts
within the window are exactly the oracle's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from calbridge.translate.errors import UnsupportedRecurrence
from calbridge.translate.fallback import Expanded, Split, plan_fallback
from calbridge.translate.recurrence import excluded_starts, graph_recurrence, rrule_lines

NOW = datetime(2027, 1, 1, tzinfo=UTC)
WINDOW = (NOW - timedelta(days=31), NOW + timedelta(days=365))
ZONES = ("Europe/Berlin", "America/New_York", "UTC")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
Moment = datetime | date


# --- the oracle: dateutil on the original lines, wall time in the series' zone


def oracle(lines: tuple[str, ...], first: Moment, zone: str) -> set[Moment]:
    tz = ZoneInfo(zone)
    all_day = not isinstance(first, datetime)
    start = datetime.combine(first, time()) if all_day else first.astimezone(tz).replace(tzinfo=None)  # type: ignore[union-attr]
    rules = rruleset()
    for line in lines:
        name, _, value = line.partition(":")
        kind = name.split(";")[0]
        if kind == "RRULE":
            (floating,) = _floating_until((line,), zone)
            rules.rrule(rrulestr(floating.split(":", 1)[1], dtstart=start))
        else:
            for item in value.split(","):
                moment = datetime.strptime(item, "%Y%m%d" if all_day else "%Y%m%dT%H%M%S")
                (rules.rdate if kind == "RDATE" else rules.exdate)(moment)
    return _inside(rules, all_day, tz)


def _inside(rules: rruleset, all_day: bool, tz: ZoneInfo) -> set[Moment]:
    low = WINDOW[0].astimezone(tz).replace(tzinfo=None)
    high = WINDOW[1].astimezone(tz).replace(tzinfo=None)
    found: set[Moment] = set()
    for moment in rules.xafter(low, count=5000, inc=True):
        if moment > high:
            break
        found.add(moment.date() if all_day else moment.replace(tzinfo=tz).astimezone(UTC))
    return found


def _key(moment: Moment) -> Moment:
    return moment.astimezone(UTC) if isinstance(moment, datetime) else moment


# --- Google -> Graph -> Google


def through_graph(lines: tuple[str, ...], first: Moment, zone: str) -> set[Moment]:
    """The occurrences Google shows after the series went to Graph and came back."""
    try:
        return _native(lines, first, zone)
    except UnsupportedRecurrence:
        pass
    fallback = plan_fallback(lines, first, zone, window=WINDOW, holds=lambda r, s: _holds(r, s, zone))
    if isinstance(fallback, Split):
        found: set[Moment] = set()
        for part in fallback.parts:
            found |= _native(part.rules, part.start, zone)
        return found
    assume(isinstance(fallback, Expanded))
    assert isinstance(fallback, Expanded)
    return {_key(moment) for moment in fallback.starts}


def _holds(rules: tuple[str, ...], start: Moment, zone: str) -> bool:
    try:
        graph_recurrence(rules, start, zone=zone, windows_zone=zone)
    except UnsupportedRecurrence:
        return False
    return True


def _native(lines: tuple[str, ...], first: Moment, zone: str) -> set[Moment]:
    pattern = graph_recurrence(lines, first, zone=zone, windows_zone=zone)
    all_day = not isinstance(first, datetime)
    back = rrule_lines(pattern, zone=zone, all_day=all_day)
    # Graph's series starts on range.startDate at the first start's local time
    begin = date.fromisoformat(pattern["range"]["startDate"])
    start: Moment = (
        begin if all_day else datetime.combine(begin, first.astimezone(ZoneInfo(zone)).time(), ZoneInfo(zone))
    )  # type: ignore[union-attr]
    kept = oracle(back, start, zone)
    cancelled = {_key(m) for m in excluded_starts(lines, zone)}  # the engine cancels them
    return kept - cancelled


def _floating_until(lines: tuple[str, ...], zone: str) -> tuple[str, ...]:
    """UNTIL as the oracle reads it: a UTC instant restated as wall time in the zone."""
    out = []
    for line in lines:
        parts = []
        for item in line.split(":", 1)[1].split(";"):
            if item.startswith("UNTIL=") and item.endswith("Z"):
                instant = datetime.strptime(item[6:], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                item = f"UNTIL={instant.astimezone(ZoneInfo(zone)):%Y%m%dT%H%M%S}"
            parts.append(item)
        out.append("RRULE:" + ";".join(parts))
    return tuple(out)


# --- random series


@st.composite
def series(draw: st.DrawFn) -> tuple[tuple[str, ...], Moment, str]:
    all_day = draw(st.booleans())
    zone = "UTC" if all_day else draw(st.sampled_from(ZONES))  # all-day series are dates (zone UTC)
    day = date(2026, 11, 1) + timedelta(days=draw(st.integers(0, 200)))
    hour = draw(st.sampled_from((0, 1, 2, 9, 17, 23)))
    first: Moment = day if all_day else datetime.combine(day, time(hour, 30), ZoneInfo(zone))
    freq = draw(st.sampled_from(("DAILY", "WEEKLY", "MONTHLY", "YEARLY")))
    parts = [f"FREQ={freq}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 3))}")
    by = draw(st.sampled_from(("none", "byday", "ordinal", "monthday", "setpos", "byhour", "bymonth")))
    if by == "byday":
        parts.append(
            "BYDAY=" + ",".join(draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True)))
        )
    elif by == "ordinal" and freq in ("MONTHLY", "YEARLY"):
        parts.append(f"BYDAY={draw(st.sampled_from((1, 2, 3, 4, 5, -1, -2)))}{draw(st.sampled_from(DAYS))}")
    elif by == "monthday" and freq in ("MONTHLY", "YEARLY"):
        values = draw(
            st.lists(st.sampled_from((1, 5, 15, 28, 29, 30, 31, -1)), min_size=1, max_size=3, unique=True)
        )
        parts.append("BYMONTHDAY=" + ",".join(map(str, values)))
    elif by == "setpos" and freq == "MONTHLY":
        parts.append("BYDAY=MO,TU,WE,TH,FR")
        parts.append(f"BYSETPOS={draw(st.sampled_from(('1', '-1', '2', '1,-1')))}")
    elif by == "byhour" and not all_day and freq in ("DAILY", "WEEKLY"):
        parts.append(f"BYHOUR={hour},{(hour + 8) % 24}")
        parts.append("BYMINUTE=30")
    elif by == "bymonth" and freq == "YEARLY":
        parts.append("BYMONTH=" + ",".join(map(str, sorted({first.month, draw(st.integers(1, 12))}))))
    end = draw(st.sampled_from(("none", "count", "until")))
    if end == "count":
        parts.append(f"COUNT={draw(st.integers(1, 15))}")
    elif end == "until":
        until = datetime.combine(day + timedelta(days=draw(st.integers(10, 300))), time(12), UTC)
        parts.append(f"UNTIL={until:%Y%m%d}" if all_day else f"UNTIL={until:%Y%m%dT%H%M%SZ}")
    lines = ["RRULE:" + ";".join(parts)]
    extras = draw(st.sampled_from(("none", "exdate", "rdate")))
    if extras != "none":
        other = day + timedelta(days=draw(st.integers(1, 60)))
        stamp = f"{other:%Y%m%d}" if all_day else f"{datetime.combine(other, time(hour, 30)):%Y%m%dT%H%M%S}"
        head = "EXDATE" if extras == "exdate" else "RDATE"
        lines.append(f"{head};VALUE=DATE:{stamp}" if all_day else f"{head};TZID={zone}:{stamp}")
    return tuple(lines), first, zone


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series())
def test_given_any_rule_when_carried_to_graph_and_back_or_by_fallback_then_google_occurrences_are_kept(
    drawn: tuple[tuple[str, ...], Moment, str],
) -> None:
    lines, first, zone = drawn
    assert through_graph(lines, first, zone) == {_key(m) for m in oracle(lines, first, zone)}
