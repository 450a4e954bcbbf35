"""Problems with the on-call schedule: gaps (nobody on call in a layer soon) and unhealthy set-ups (fewer than three
people in a 24×7 rotation, unbroken shifts longer than four days). Pure; thresholds come from oncall.toml [health] and
[rotation_limits] (shared.oncall.compliance judges the limits).

These are warnings for people to act on, not failures of Firebell: they are logged at start-up and listed in
/api/health and GET /api/oncall, but never make /api/health answer 503. Wording names no people, because
/api/health is anonymous.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.core.timeutil import iso
from shared.oncall.compliance import roster_compliance
from shared.oncall.override import Override
from shared.oncall.schedule import Roster, Schedule
from shared.oncall.shifts import gaps, shifts

GAP, TOO_FEW_PEOPLE, LONG_SHIFTS = "gap", "too_few_people", "long_shifts"


@dataclass(frozen=True)
class Problem:
    roster: str
    layer: str
    kind: str  # GAP, TOO_FEW_PEOPLE or LONG_SHIFTS
    detail: str  # one sentence for people, naming roster and layer
    start: datetime | None = None  # the gap, or the longest shift
    end: datetime | None = None


def problems(schedule: Schedule, now: datetime, overrides: Sequence[Override] = ()) -> list[Problem]:
    """Every roster's problems, in roster and layer order. Overrides fill gaps, so pass them when known; a set-up
    is judged on the rotations alone."""
    found: list[Problem] = []
    for roster in schedule.rosters:
        found += roster_problems(schedule, roster, now, overrides)
    return found


def roster_problems(
    schedule: Schedule, roster: Roster, now: datetime, overrides: Sequence[Override] = ()
) -> list[Problem]:
    policy = schedule.health
    limits = policy.limits
    until = now + timedelta(days=policy.gap_days)
    checked = roster_compliance(schedule, roster, now)
    found: list[Problem] = []
    for layer in roster.layers:
        where = f"{roster.id} {layer.name}"
        for short in (check for check in checked.short_rotations if check.layer == layer.name):
            found.append(
                Problem(
                    roster.id,
                    layer.name,
                    TOO_FEW_PEOPLE,
                    f"{where}: the 24×7 rotation {short.rotation!r} has {short.people} "
                    f"{'person' if short.people == 1 else 'people'}; "
                    f"at least {limits.min_people} keep it sustainable",
                )
            )
        for long in (check for check in checked.long_layers if check.layer == layer.name):
            assert long.longest is not None
            start, end = long.longest.start, long.longest.end
            found.append(
                Problem(
                    roster.id,
                    layer.name,
                    LONG_SHIFTS,
                    f"{where}: one person is on call without a break for {_duration(end - start)} "
                    f"({iso(start)} → {iso(end)}); keep unbroken shifts to {limits.max_shift_days} days or less",
                    start,
                    end,
                )
            )
        covered = shifts(schedule, roster.id, layer.name, now, until, overrides)
        for begins, ends in gaps(covered, now, until):
            found.append(
                Problem(
                    roster.id,
                    layer.name,
                    GAP,
                    f"{where}: nobody is on call from {iso(begins)} to {iso(ends)}",
                    begins,
                    ends,
                )
            )
    return found


def _duration(length: timedelta) -> str:
    hours = round(length.total_seconds() / 3600)
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} hours" if hours else f"{days} days"
