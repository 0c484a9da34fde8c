"""GetServerTimeZones: Windows time-zone definitions with their yearly DST rules, derived from tzdata.
exchangelib calls it before GetUserAvailability to describe the request's time zone."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from lxml import etree

from sandbox.ews.operations import Context
from sandbox.ews.recurrence import zone_for
from sandbox.ews.soap import m, response, success_message, t

__all__ = ["YearlyTransition", "get_server_time_zones", "yearly_transitions", "zone_definition"]

_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass(frozen=True)
class YearlyTransition:
    """A change of offset as a yearly rule: the nth (or last, -1) weekday of a month, at a local time."""

    to_daylight: bool
    month: int
    weekday: str
    occurrence: int
    local_time: timedelta  # wall-clock time before the change
    new_offset: timedelta


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    return instant.astimezone(zone).utcoffset() or timedelta(0)


def yearly_transitions(zone: ZoneInfo, year: int) -> list[YearlyTransition]:
    """The offset changes of `zone` in `year`, found hour by hour around each day whose offset moves."""
    found = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    while day < end:
        nxt = day + timedelta(days=1)
        if _offset(zone, day) != _offset(zone, nxt):
            instant = day
            while _offset(zone, instant + timedelta(minutes=30)) == _offset(zone, day):
                instant += timedelta(minutes=30)
            change = instant + timedelta(minutes=30)
            before = _offset(zone, instant)
            local = (change + before).replace(tzinfo=None)
            last_day = calendar.monthrange(local.year, local.month)[1]
            occurrence = -1 if local.day + 7 > last_day else (local.day - 1) // 7 + 1
            found.append(
                YearlyTransition(
                    to_daylight=bool(change.astimezone(zone).dst()),
                    month=local.month,
                    weekday=_WEEKDAYS[local.weekday()],
                    occurrence=occurrence,
                    local_time=timedelta(hours=local.hour, minutes=local.minute),
                    new_offset=_offset(zone, change),
                )
            )
        day = nxt
    return found


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{'-' if minutes < 0 else ''}PT{abs(minutes)}M"


def zone_definition(ms_id: str, year: int) -> etree._Element:
    zone = zone_for(ms_id)
    rules = yearly_transitions(zone, year)
    standard = next((r.new_offset for r in rules if not r.to_daylight), None)
    if standard is None:
        standard = _offset(zone, datetime(year, 1, 1, tzinfo=UTC))
    definition = etree.Element(t("TimeZoneDefinition"), Id=ms_id, Name=ms_id)
    periods = etree.SubElement(definition, t("Periods"))
    std_id, dst_id = f"trule:{ms_id}/Standard", f"trule:{ms_id}/Daylight"
    etree.SubElement(periods, t("Period"), Bias=_duration(-standard), Name="Standard", Id=std_id)
    daylight = next((r.new_offset for r in rules if r.to_daylight), None)
    if daylight is not None and len(rules) == 2:
        etree.SubElement(periods, t("Period"), Bias=_duration(-daylight), Name="Daylight", Id=dst_id)
    group = etree.SubElement(
        etree.SubElement(definition, t("TransitionsGroups")), t("TransitionsGroup"), Id="0"
    )
    if daylight is None or len(rules) != 2:
        transition = etree.SubElement(group, t("Transition"))
        etree.SubElement(transition, t("To"), Kind="Period").text = std_id
    else:
        for rule in rules:
            transition = etree.SubElement(group, t("RecurringDayTransition"))
            etree.SubElement(transition, t("To"), Kind="Period").text = dst_id if rule.to_daylight else std_id
            etree.SubElement(transition, t("TimeOffset")).text = _duration(rule.local_time)
            etree.SubElement(transition, t("Month")).text = str(rule.month)
            etree.SubElement(transition, t("DayOfWeek")).text = rule.weekday
            etree.SubElement(transition, t("Occurrence")).text = str(rule.occurrence)
    top = etree.SubElement(etree.SubElement(definition, t("Transitions")), t("Transition"))
    etree.SubElement(top, t("To"), Kind="Group").text = "0"
    return definition


async def get_server_time_zones(ctx: Context, op: etree._Element) -> etree._Element:
    ids_holder = op.find(m("Ids"))
    ids = [(e.text or "").strip() for e in ids_holder] if ids_holder is not None else ["UTC"]
    container = etree.Element(m("TimeZoneDefinitions"))
    year = ctx.world.clock.now().year
    container.extend(zone_definition(ms_id, year) for ms_id in ids)
    return response("GetServerTimeZones", [success_message("GetServerTimeZones", [container])])
