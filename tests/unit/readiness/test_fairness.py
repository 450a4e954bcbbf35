"""Rotation fairness: a roster's pages counted on the primary shift of the person they reached, while they held it;
the span covered is the recent part of the window, never the future."""

from __future__ import annotations

from shared.oncall.override import Override
from shared.oncall.schedule import load_schedule
from shared.oncall.shifts import shifts
from shared.readiness.distribution import Spread
from shared.readiness.fairness import SPAN, fairness, span
from tests.unit.readiness.history import utc
from tests.unit.readiness.test_summary import PEOPLE, ROOT

SCHEDULE = load_schedule(ROOT / "config", PEOPLE)
# Payments, Mon 23 – Fri 27 November 2026: Sofia until Tue 09:00, Tim, Larry, Grace (each 09:00 to 09:00), Sofia
# until the weekend shift starts on Friday 17:00 (Larry's).
START, END = utc("2026-11-23T00:00"), utc("2026-11-28T00:00")


def test_pages_count_on_the_shift_of_the_person_they_reached_while_they_held_it():
    found = shifts(SCHEDULE, "payments", "primary", START, END)
    paged = [
        ("Tim Jones", utc("2026-11-24T09:00")),  # the first moment of his shift
        ("Tim Jones", utc("2026-11-25T03:00")),
        ("Tim Jones", utc("2026-11-25T09:00")),  # his shift is over: Larry's now
        ("Larry Brown", utc("2026-11-25T12:00")),
        ("Larry Brown", utc("2026-11-27T18:00")),  # his weekend shift
        ("Marcus Lee", utc("2026-11-24T12:00")),  # not on this rotation
    ]
    result = fairness(found, paged)
    assert (result.shifts, result.busiest, result.quiet) == (6, 2, 3)
    assert result.per_shift == Spread(6, 0.5, 2)  # 0 0 0 1 1 2
    assert result.people == {
        "Grace Okafor": (1, 0),
        "Larry Brown": (2, 2),
        "Sofia García": (2, 0),
        "Tim Jones": (1, 2),
    }


def test_an_override_takes_the_shift_and_its_pages():
    cover = Override(
        id="o1",
        roster="payments",
        layer="primary",
        person=PEOPLE.named("Grace Okafor"),
        start=utc("2026-11-24T09:00"),
        end=utc("2026-11-25T09:00"),
        created_at=utc("2026-11-20T00:00"),
        created_by="Tim Jones",
    )
    found = shifts(SCHEDULE, "payments", "primary", START, END, [cover])
    result = fairness(found, [("Grace Okafor", utc("2026-11-24T10:00")), ("Tim Jones", utc("2026-11-24T10:00"))])
    assert result.people["Grace Okafor"] == (2, 1) and "Tim Jones" not in result.people


def test_fairness_covers_the_last_quarter_of_a_window_up_to_now():
    now = utc("2026-12-06T12:00")
    assert span(utc("2026-01-01T00:00"), utc("2027-01-01T00:00"), now) == (now - SPAN, now)
    assert span(utc("2026-12-01T00:00"), utc("2027-01-01T00:00"), now) == (utc("2026-12-01T00:00"), now)
    assert span(utc("2027-01-01T00:00"), utc("2027-02-01T00:00"), now) is None
    assert span(START, END, now) == (START, END)
