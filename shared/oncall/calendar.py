"""A roster's shifts as an iCalendar feed (RFC 5545, written by the icalendar library) that people subscribe to.

Times are UTC (`…Z`), so every calendar client shows them in its own zone without a VTIMEZONE. A shift's UID
comes from roster, layer, person, start and whether it is an override, so refreshing the feed updates events in
place instead of duplicating them. Shifts are marked free time (TRANSP:TRANSPARENT): being on call is not a meeting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from icalendar import Calendar, Event, vCalAddress, vText

from shared.core.timeutil import iso
from shared.oncall.schedule import Roster
from shared.oncall.shifts import Shift

PRODUCT = "-//Firebell//On-call schedule//EN"


def shift_uid(roster_id: str, shift: Shift) -> str:
    key = "|".join((roster_id, shift.layer, shift.person.name, iso(shift.start), "override" if shift.override else ""))
    return hashlib.sha256(key.encode()).hexdigest()[:32] + "@firebell"


def roster_calendar(roster: Roster, shifts: Sequence[Shift], generated_at: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"{roster.name} on call")
    for shift in shifts:
        calendar.add_component(_event(roster, shift, generated_at))
    return calendar.to_ical()


def _event(roster: Roster, shift: Shift, generated_at: datetime) -> Event:
    how = "override" if shift.override else "rotation"
    event = Event()
    event.add("uid", shift_uid(roster.id, shift))
    event.add("dtstamp", generated_at)
    event.add("dtstart", shift.start)
    event.add("dtend", shift.end)
    event.add(
        "summary", f"{roster.name} {shift.layer}: {shift.person.name}" + (" (override)" if shift.override else "")
    )
    event.add(
        "description",
        f"{shift.person.name} is on call for {roster.name} ({shift.layer}, {how}) from {iso(shift.start)} to "
        f"{iso(shift.end)}.",
    )
    event.add("categories", [f"on-call {shift.layer}"])
    event.add("transp", "TRANSPARENT")
    if shift.person.email:
        attendee = vCalAddress(f"mailto:{shift.person.email}")
        attendee.params["cn"] = vText(shift.person.name)
        event.add("attendee", attendee, encode=False)
    return event
