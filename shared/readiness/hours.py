"""When a page lands in a person's day: working hours, off hours (evenings and weekends) or sleep hours, on the wall
clock of the person's own time zone (people.toml), so a page at 21:30 UTC is 08:30 in Sydney in March and 07:30 in
April. Pure.

The bands are PagerDuty's (its operational reviews count interruptions the same way): working hours 08:00–18:00
Monday to Friday, sleep hours 22:00–08:00 every night, off hours the rest.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

WORKING_HOURS, OFF_HOURS, SLEEP_HOURS = "working_hours", "off_hours", "sleep_hours"
PERIODS = (WORKING_HOURS, OFF_HOURS, SLEEP_HOURS)

WORKDAY_START, WORKDAY_END = time(8), time(18)
SLEEP_START, SLEEP_END = time(22), time(8)
WORKDAYS = range(0, 5)  # Monday … Friday


def local_time(at: datetime, zone: str) -> datetime:
    """The wall-clock time in `zone` (zoneinfo applies the daylight-saving rule in force at that instant)."""
    return at.astimezone(ZoneInfo(zone))


def period(at: datetime, zone: str) -> str:
    """The band of the person's day `at` falls in."""
    local = local_time(at, zone)
    clock = local.time()
    if clock >= SLEEP_START or clock < SLEEP_END:
        return SLEEP_HOURS
    if local.weekday() in WORKDAYS and WORKDAY_START <= clock < WORKDAY_END:
        return WORKING_HOURS
    return OFF_HOURS
