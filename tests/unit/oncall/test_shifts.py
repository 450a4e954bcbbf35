"""Who is on call: layers of rotations (a later rotation wins where it applies), overrides on top (the newest wins),
follow-the-sun without gaps, and a property test over arbitrary instants and overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.oncall.health import GAP, LONG_SHIFTS, TOO_FEW_PEOPLE, Problem, problems
from shared.oncall.override import Override, override_id, winning
from shared.oncall.people import Person
from shared.oncall.shifts import Shift, gaps, now_and_next, on_call, shifts
from tests.unit.oncall.test_schedule import ANA, BEN, CHLOE, DEV, EVE, FINN, ZED, schedule_from

# Ops: 24×7 three-day shifts handing off at 09:00 London, with a New York weekend rotation (Sat–Sun whole days)
# over it; the secondary layer is follow-the-sun Tokyo → London → Los Angeles, 08:00–17:00 every day.
OPS = schedule_from(
    """
[[roster]]
id = "ops"
time_zone = "Europe/London"
  [[roster.layer]]
  name = "primary"
    [[roster.layer.rotation]]
    name = "days"
    kind = "custom"
    shift_days = 3
    members = ["Ana Silva", "Ben Cole", "Chloe Wu"]
    handoff_time = "09:00"
    start = 2025-12-29
    [[roster.layer.rotation]]
    name = "weekends"
    kind = "weekly"
    members = ["Finn Berg", "Eve Moreno"]
    time_zone = "America/New_York"
    handoff_weekday = "saturday"
    handoff_time = "00:00"
    start = 2026-01-03
    days = ["sat", "sun"]
  [[roster.layer]]
  name = "secondary"
    [[roster.layer.rotation]]
    name = "sun"
    kind = "follow_the_sun"
    members = ["Dev Patel", "Finn Berg", "Eve Moreno"]
    hours = "08:00-17:00"
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
"""
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def override(person: Person, start: datetime, end: datetime, created_at: datetime, layer: str = "primary") -> Override:
    return Override(
        "ops", layer, person, start, end, created_at, override_id("ops", layer, person, start, end, created_at)
    )


def test_a_weekend_rotation_wins_over_the_weekday_rotation_where_it_applies():
    # Friday 9 January 2026 → Tuesday 13 January. The weekend is Saturday 00:00 → Monday 00:00 in New York (05:00Z).
    assert shifts(OPS, "ops", "primary", utc(2026, 1, 9), utc(2026, 1, 13)) == [
        Shift(ANA, utc(2026, 1, 9), utc(2026, 1, 10, 5), "primary", False),  # Ana's shift from 7 January 09:00
        Shift(EVE, utc(2026, 1, 10, 5), utc(2026, 1, 12, 5), "primary", False),
        Shift(BEN, utc(2026, 1, 12, 5), utc(2026, 1, 13), "primary", False),  # his shift began under the weekend
    ]
    assert on_call(OPS, "ops", "primary", utc(2026, 1, 11, 12)) == EVE
    assert on_call(OPS, "ops", "primary", utc(2026, 1, 17, 4, 59)) == ANA
    assert on_call(OPS, "ops", "primary", utc(2026, 1, 17, 5)) == FINN
    assert on_call(OPS, "ops", "primary", utc(2025, 12, 29, 8, 59)) is None  # before the first shift: a gap


def test_overrides_on_top_of_overrides_the_newest_wins_and_the_older_shows_where_it_is_alone():
    older = override(DEV, utc(2026, 1, 5, 12), utc(2026, 1, 6, 12), created_at=utc(2026, 1, 1))
    newer = override(ZED, utc(2026, 1, 6), utc(2026, 1, 7), created_at=utc(2026, 1, 2))
    other_layer = override(EVE, utc(2026, 1, 5), utc(2026, 1, 8), utc(2026, 1, 3), layer="secondary")
    found = shifts(OPS, "ops", "primary", utc(2026, 1, 5), utc(2026, 1, 8), [newer, other_layer, older])
    assert found == [
        Shift(FINN, utc(2026, 1, 5), utc(2026, 1, 5, 5), "primary", False),  # the weekend ends Sunday 24:00 in New York
        Shift(CHLOE, utc(2026, 1, 5, 5), utc(2026, 1, 5, 12), "primary", False),
        Shift(DEV, utc(2026, 1, 5, 12), utc(2026, 1, 6), "primary", True),
        Shift(ZED, utc(2026, 1, 6), utc(2026, 1, 7), "primary", True),  # newer, though it starts later
        Shift(CHLOE, utc(2026, 1, 7), utc(2026, 1, 7, 9), "primary", False),
        Shift(ANA, utc(2026, 1, 7, 9), utc(2026, 1, 8), "primary", False),
    ]
    assert on_call(OPS, "ops", "primary", utc(2026, 1, 6, 6), [older, newer]) == ZED
    assert winning([older, newer, other_layer], "ops", "primary", utc(2026, 1, 6, 6)) == newer
    # Swapping the creation order swaps the winner where they overlap.
    older_again = override(DEV, older.start, older.end, created_at=utc(2026, 1, 3))
    assert on_call(OPS, "ops", "primary", utc(2026, 1, 6, 6), [older_again, newer]) == DEV


def test_now_and_next_give_the_real_start_and_end_of_the_shifts():
    current, following = now_and_next(OPS, "ops", "primary", utc(2026, 1, 20, 12))
    # Three-day shifts from 29 December 09:00: shift 7 (Ben) runs 19 January 09:00 → 22 January 09:00 GMT.
    assert current == Shift(BEN, utc(2026, 1, 19, 9), utc(2026, 1, 22, 9), "primary", False)
    assert following == Shift(CHLOE, utc(2026, 1, 22, 9), utc(2026, 1, 24, 5), "primary", False)  # to the weekend
    # In a gap there is no current shift, and the next one is the first after it.
    assert now_and_next(OPS, "ops", "primary", utc(2025, 12, 20)) == (
        None,
        Shift(ANA, utc(2025, 12, 29, 9), utc(2026, 1, 1, 9), "primary", False),
    )


def test_follow_the_sun_across_three_zones_leaves_no_gap_all_year():
    start, end = utc(2026, 1, 1), utc(2027, 1, 1)
    year = shifts(OPS, "ops", "secondary", start, end)
    assert gaps(year, start, end) == []
    assert {shift.person for shift in year} == {DEV, FINN, EVE}
    # Every hand-off is at 08:00 local time of the member taking over.
    assert {shift.start.astimezone(ZoneInfo(shift.person.time_zone)).hour for shift in year[1:]} == {8}


def test_follow_the_sun_with_a_zone_missing_reports_the_gap_it_leaves():
    missing_london = schedule_from(
        """
[[roster]]
id = "ops"
  [[roster.layer]]
  name = "primary"
    [[roster.layer.rotation]]
    name = "sun"
    kind = "follow_the_sun"
    members = ["Dev Patel", "Eve Moreno"]
    hours = "08:00-17:00"
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
[health]
gap_days = 2
"""
    )
    # Tokyo ends 08:00Z, Los Angeles (PST) starts 16:00Z: eight hours a day with nobody on call.
    assert problems(missing_london, utc(2026, 1, 5)) == [
        Problem(
            "ops",
            "primary",
            GAP,
            "ops primary: nobody is on call from 2026-01-05T08:00:00.000Z to 2026-01-05T16:00:00.000Z",
            utc(2026, 1, 5, 8),
            utc(2026, 1, 5, 16),
        ),
        Problem(
            "ops",
            "primary",
            GAP,
            "ops primary: nobody is on call from 2026-01-06T08:00:00.000Z to 2026-01-06T16:00:00.000Z",
            utc(2026, 1, 6, 8),
            utc(2026, 1, 6, 16),
        ),
    ]
    # An override fills the first gap; the second stays.
    cover = override(ZED, utc(2026, 1, 5, 7), utc(2026, 1, 5, 17), utc(2026, 1, 4))
    assert [p.start for p in problems(missing_london, utc(2026, 1, 5), [cover])] == [utc(2026, 1, 6, 8)]


# Two people taking a week each: too few for a 24×7 rotation, and shifts a week long.
WEEKLY_PAIR = """
[[roster]]
id = "ops"
  [[roster.layer]]
  name = "primary"
    [[roster.layer.rotation]]
    name = "weekly"
    kind = "weekly"
    members = ["Ana Silva", "Ben Cole"]
    handoff_weekday = "monday"
    handoff_time = "09:00"
    time_zone = "Europe/London"
    start = 2026-01-05
"""


def test_too_few_people_and_long_unbroken_shifts_are_unhealthy():
    weekly_pair = schedule_from(WEEKLY_PAIR)
    assert problems(weekly_pair, utc(2026, 1, 14)) == [
        Problem(
            "ops",
            "primary",
            TOO_FEW_PEOPLE,
            "ops primary: the 24×7 rotation 'weekly' has 2 people; at least 3 keep it sustainable",
        ),
        Problem(
            "ops",
            "primary",
            LONG_SHIFTS,
            "ops primary: one person is on call without a break for 7 days (2026-01-12T09:00:00.000Z → "
            "2026-01-19T09:00:00.000Z); keep unbroken shifts to 4 days or less",
            utc(2026, 1, 12, 9),
            utc(2026, 1, 19, 9),
        ),
    ]
    # The example set-up of this module is healthy: three people in three-day shifts, weekends split off.
    assert problems(OPS, utc(2026, 3, 1)) == []


STAFF = [ANA, BEN, CHLOE, DEV, EVE, FINN, ZED]
YEAR = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC))


@st.composite
def overrides(draw: st.DrawFn) -> list[Override]:
    drawn = []
    for index in range(draw(st.integers(0, 6))):
        start = draw(YEAR)
        length = timedelta(minutes=draw(st.integers(1, 10 * 24 * 60)))
        person = draw(st.sampled_from(STAFF))
        layer = draw(st.sampled_from(["primary", "secondary"]))
        created_at = utc(2025, 12, 1) + timedelta(hours=index)  # distinct creation instants
        drawn.append(override(person, start, start + length, created_at, layer))
    return draw(st.permutations(drawn))


@settings(max_examples=200, deadline=None)
@given(at=YEAR, layer=st.sampled_from(["primary", "secondary"]), stacked=overrides())
def test_the_person_on_call_belongs_to_the_layer_or_is_the_newest_covering_override(at, layer, stacked):
    person = on_call(OPS, "ops", layer, at, stacked)
    covering = [o for o in stacked if o.layer == layer and o.start <= at < o.end]
    if covering:
        assert person == max(covering, key=lambda o: o.created_at).person
    else:
        assert person in OPS.roster("ops").layer(layer).members
    # The instant answer agrees with the shifts over a day around it.
    around = shifts(OPS, "ops", layer, at - timedelta(hours=12), at + timedelta(hours=12), stacked)
    (holding,) = [shift for shift in around if shift.start <= at < shift.end]
    assert (holding.person, holding.override) == (person, bool(covering))
