"""Rotation-limit compliance per roster: the people in each 24×7 rotation and each layer's longest unbroken shift
against oncall.toml [rotation_limits]; limits are configuration, so the same rotation complies under other limits."""

from __future__ import annotations

from shared.oncall.compliance import LayerCheck, RotationCheck, roster_compliance
from shared.oncall.schedule import RotationLimits
from shared.oncall.shifts import Shift
from tests.unit.oncall.test_schedule import BEN
from tests.unit.oncall.test_shifts import OPS, WEEKLY_PAIR, schedule_from, utc


def test_a_weekly_pair_breaks_both_default_limits_and_says_by_how_much():
    schedule = schedule_from(WEEKLY_PAIR)
    found = roster_compliance(schedule, schedule.roster("ops"), utc(2026, 1, 14))
    assert found.limits == RotationLimits(max_shift_days=4, min_people=3)
    assert found.rotations == (RotationCheck("primary", "weekly", "weekly", True, 2),)
    # The shift running on 14 January is Ben's week (the 12th to the 19th, 09:00 London = UTC in January).
    longest = Shift(BEN, utc(2026, 1, 12, 9), utc(2026, 1, 19, 9), "primary", False)
    assert found.layers == (LayerCheck("primary", longest),)
    assert (found.short_rotations, found.long_layers) == (found.rotations, found.layers)
    assert found.layers[0].longest_hours == 168.0 and not found.compliant


def test_the_same_rotation_complies_under_limits_that_accept_a_week_of_two():
    schedule = schedule_from("[rotation_limits]\nmax_shift_days = 7\nmin_people = 2\n" + WEEKLY_PAIR)
    found = roster_compliance(schedule, schedule.roster("ops"), utc(2026, 1, 14))
    assert found.limits == RotationLimits(7, 2) and found.compliant
    assert found.layers[0].longest == Shift(BEN, utc(2026, 1, 12, 9), utc(2026, 1, 19, 9), "primary", False)


def test_restricted_rotations_need_no_minimum_and_resolved_shifts_are_what_is_judged():
    found = roster_compliance(OPS, OPS.roster("ops"), utc(2026, 3, 1))
    # Two people take the weekends and three follow the sun: only the 24×7 rotation needs three.
    assert [(c.rotation, c.around_the_clock, c.people, c.within(found.limits)) for c in found.rotations] == [
        ("days", True, 3, True),
        ("weekends", False, 2, True),
        ("sun", False, 3, True),
    ]
    assert [(c.layer, c.longest_hours) for c in found.layers] == [("primary", 72.0), ("secondary", 9.0)]
    assert found.compliant
