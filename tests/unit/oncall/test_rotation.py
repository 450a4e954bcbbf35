"""Rotations hand off at local wall-clock time: exact UTC instants across daylight-saving changes in London, New York
and Sydney, through the skipped and the repeated hour, and for restricted (weekend) windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from shared.oncall.rotation import Cover, Rotation, WeeklyWindow, covers, overlay, shift_index, window_occurrences
from tests.unit.oncall.test_schedule import ANA, BEN, CHLOE, DEV, EVE, FINN


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def daily(zone: str, start: date, at: time = time(9, 0), members=(ANA, BEN, CHLOE)) -> Rotation:
    return Rotation("daily", "daily", tuple(members), zone, at, 1, start)


def summary(found: list[Cover]) -> list[tuple[str, datetime, datetime]]:
    return [(cover.person.name, cover.start, cover.end) for cover in found]


# Hand-off at local 09:00 on Friday, Saturday, Sunday and Monday of each daylight-saving weekend.
DST_WEEKENDS = [
    # London: BST begins Sunday 29 March 2026 (09:00 is 09:00Z, then 08:00Z) and ends Sunday 25 October.
    (
        "Europe/London",
        date(2026, 3, 27),
        [utc(2026, 3, 27, 9), utc(2026, 3, 28, 9), utc(2026, 3, 29, 8), utc(2026, 3, 30, 8)],
    ),
    (
        "Europe/London",
        date(2026, 10, 23),
        [utc(2026, 10, 23, 8), utc(2026, 10, 24, 8), utc(2026, 10, 25, 9), utc(2026, 10, 26, 9)],
    ),
    # New York: EDT begins Sunday 8 March 2026 (09:00 EST = 14:00Z, EDT = 13:00Z) and ends Sunday 1 November.
    (
        "America/New_York",
        date(2026, 3, 6),
        [utc(2026, 3, 6, 14), utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)],
    ),
    (
        "America/New_York",
        date(2026, 10, 30),
        [utc(2026, 10, 30, 13), utc(2026, 10, 31, 13), utc(2026, 11, 1, 14), utc(2026, 11, 2, 14)],
    ),
    # Sydney: AEDT (+11) ends Sunday 5 April 2026 and begins again Sunday 4 October (09:00 local is the day before
    # in UTC).
    (
        "Australia/Sydney",
        date(2026, 4, 3),
        [utc(2026, 4, 2, 22), utc(2026, 4, 3, 22), utc(2026, 4, 4, 23), utc(2026, 4, 5, 23)],
    ),
    (
        "Australia/Sydney",
        date(2026, 10, 2),
        [utc(2026, 10, 1, 23), utc(2026, 10, 2, 23), utc(2026, 10, 3, 22), utc(2026, 10, 4, 22)],
    ),
]


@pytest.mark.parametrize(("zone", "friday", "handoffs"), DST_WEEKENDS)
def test_a_daily_hand_off_stays_at_local_nine_across_the_daylight_saving_weekend(zone, friday, handoffs):
    rotation = daily(zone, friday)
    assert summary(covers(rotation, handoffs[0], handoffs[3])) == [
        ("Ana Silva", handoffs[0], handoffs[1]),
        ("Ben Cole", handoffs[1], handoffs[2]),
        ("Chloe Wu", handoffs[2], handoffs[3]),
    ]
    # The Saturday shift is the one the clock change lands in: an hour shorter in spring, longer in autumn.
    assert {handoffs[2] - handoffs[1]} <= {timedelta(hours=23), timedelta(hours=25)}
    assert [shift_index(rotation, moment) for moment in handoffs] == [0, 1, 2, 3]
    assert shift_index(rotation, handoffs[2] - timedelta(microseconds=1)) == 1


@pytest.mark.parametrize(
    ("zone", "monday", "first", "second"),
    [
        ("Europe/London", date(2026, 3, 23), utc(2026, 3, 23, 9), utc(2026, 3, 30, 8)),
        ("America/New_York", date(2026, 10, 26), utc(2026, 10, 26, 13), utc(2026, 11, 2, 14)),
        ("Australia/Sydney", date(2026, 9, 28), utc(2026, 9, 27, 23), utc(2026, 10, 4, 22)),
    ],
)
def test_a_weekly_hand_off_on_monday_at_nine_spans_the_clock_change(zone, monday, first, second):
    rotation = Rotation("weekly", "weekly", (ANA, BEN), zone, time(9, 0), 7, monday)
    assert summary(covers(rotation, first, second + timedelta(hours=1))) == [
        ("Ana Silva", first, second),
        ("Ben Cole", second, second + timedelta(hours=1)),
    ]


def test_a_hand_off_in_the_skipped_hour_happens_when_the_clock_jumps_past_it():
    # New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT. 02:30 does not exist; it is read as 02:30 EST = 07:30Z
    # (03:30 EDT), the same instant as the day before's hand-off clock time, so no shift is skipped or doubled.
    rotation = daily("America/New_York", date(2026, 3, 7), time(2, 30))
    assert summary(covers(rotation, utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 6, 30))) == [
        ("Ana Silva", utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30)),
        ("Ben Cole", utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)),  # 02:30 EDT on Monday
    ]


def test_a_hand_off_in_the_repeated_hour_happens_at_its_first_occurrence():
    # New York, 1 November 2026: 01:00–02:00 happens twice (EDT, then EST). 01:30 is its first occurrence, EDT.
    rotation = daily("America/New_York", date(2026, 10, 31), time(1, 30))
    assert summary(covers(rotation, utc(2026, 10, 31, 5, 30), utc(2026, 11, 2, 6, 30))) == [
        ("Ana Silva", utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30)),
        ("Ben Cole", utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)),  # 25 hours: the repeated hour is in it
    ]


def test_a_custom_rotation_takes_turns_in_order_and_nobody_covers_before_its_start():
    rotation = Rotation("three-day", "custom", (ANA, BEN, CHLOE), "UTC", time(8, 0), 3, date(2026, 1, 5))
    assert summary(covers(rotation, utc(2026, 1, 1), utc(2026, 1, 15))) == [
        ("Ana Silva", utc(2026, 1, 5, 8), utc(2026, 1, 8, 8)),
        ("Ben Cole", utc(2026, 1, 8, 8), utc(2026, 1, 11, 8)),
        ("Chloe Wu", utc(2026, 1, 11, 8), utc(2026, 1, 14, 8)),
        ("Ana Silva", utc(2026, 1, 14, 8), utc(2026, 1, 15)),  # clipped to the range
    ]
    # Turns are counted from the start: shift 120 (360 days on) is Ana's again, shift 121 Ben's.
    assert summary(covers(rotation, utc(2027, 1, 3, 7), utc(2027, 1, 3, 9))) == [
        ("Ana Silva", utc(2027, 1, 3, 7), utc(2027, 1, 3, 8)),
        ("Ben Cole", utc(2027, 1, 3, 8), utc(2027, 1, 3, 9)),
    ]


def test_a_weekend_window_opens_and_closes_at_local_time_across_the_autumn_change():
    weekend = (WeeklyWindow(4 * 1440 + 17 * 60, 64 * 60),)  # Friday 17:00 → Monday 09:00
    # Friday 23 October 2026 17:00 BST = 16:00Z; Monday 26 October 09:00 GMT = 09:00Z.
    assert window_occurrences(weekend, "Europe/London", utc(2026, 10, 22), utc(2026, 10, 27)) == [
        (utc(2026, 10, 23, 16), utc(2026, 10, 26, 9))
    ]
    rotation = Rotation("weekends", "weekly", (ANA, BEN), "Europe/London", time(17, 0), 7, date(2026, 10, 16), weekend)
    assert summary(covers(rotation, utc(2026, 10, 19), utc(2026, 11, 3))) == [
        ("Ana Silva", utc(2026, 10, 19), utc(2026, 10, 19, 8)),  # the end of her first weekend (09:00 BST)
        ("Ben Cole", utc(2026, 10, 23, 16), utc(2026, 10, 26, 9)),
        ("Ana Silva", utc(2026, 10, 30, 17), utc(2026, 11, 2, 9)),
    ]


def test_follow_the_sun_hands_over_when_the_next_region_starts_its_day():
    rotation = Rotation(
        "sun",
        "follow_the_sun",
        (DEV, FINN, EVE),
        windows=tuple(WeeklyWindow(day * 1440 + 8 * 60, 9 * 60) for day in range(7)),
    )
    # Monday 5 January 2026: Tokyo 08:00 JST = Sunday 23:00Z, London 08:00 GMT, Los Angeles 08:00 PST = 16:00Z.
    assert summary(covers(rotation, utc(2026, 1, 5), utc(2026, 1, 6))) == [
        ("Dev Patel", utc(2026, 1, 5), utc(2026, 1, 5, 8)),
        ("Finn Berg", utc(2026, 1, 5, 8), utc(2026, 1, 5, 16)),
        ("Eve Moreno", utc(2026, 1, 5, 16), utc(2026, 1, 5, 23)),
        ("Dev Patel", utc(2026, 1, 5, 23), utc(2026, 1, 6)),
    ]
    # In July London (BST) and Los Angeles (PDT) start an hour earlier in UTC; Tokyo has no daylight saving.
    assert summary(covers(rotation, utc(2026, 7, 6), utc(2026, 7, 7))) == [
        ("Dev Patel", utc(2026, 7, 6), utc(2026, 7, 6, 7)),
        ("Finn Berg", utc(2026, 7, 6, 7), utc(2026, 7, 6, 15)),
        ("Eve Moreno", utc(2026, 7, 6, 15), utc(2026, 7, 6, 23)),
        ("Dev Patel", utc(2026, 7, 6, 23), utc(2026, 7, 7)),
    ]


def test_overlay_lets_the_higher_rank_win_and_leaves_uncovered_time_uncovered():
    base = Cover(ANA, utc(2026, 1, 1), utc(2026, 1, 3))
    weekend = Cover(BEN, utc(2026, 1, 2), utc(2026, 1, 2, 12))
    later = Cover(CHLOE, utc(2026, 1, 4), utc(2026, 1, 5), override=True)
    assert overlay([((0,), base), ((1,), weekend), ((2,), later)], utc(2026, 1, 1, 6), utc(2026, 1, 6)) == [
        Cover(ANA, utc(2026, 1, 1, 6), utc(2026, 1, 2)),
        Cover(BEN, utc(2026, 1, 2), utc(2026, 1, 2, 12)),
        Cover(ANA, utc(2026, 1, 2, 12), utc(2026, 1, 3)),
        Cover(CHLOE, utc(2026, 1, 4), utc(2026, 1, 5), override=True),
    ]
    # The same person from two sources next to each other is one stretch.
    assert overlay(
        [((0,), base), ((1,), Cover(ANA, utc(2026, 1, 3), utc(2026, 1, 4)))], utc(2026, 1, 1), utc(2026, 1, 9)
    ) == [Cover(ANA, utc(2026, 1, 1), utc(2026, 1, 4))]
