"""Who is on call, read from the schedule and the stored overrides that can matter for the moment asked about.

The schedule is loaded once per process; each question reads only the overrides overlapping its window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.core.errors import NotFound
from shared.oncall.health import Problem, roster_problems
from shared.oncall.override import Override
from shared.oncall.override_store import OverrideStore
from shared.oncall.people import Person
from shared.oncall.schedule import Roster, Schedule
from shared.oncall.shifts import HORIZON, LOOKBACK, on_call


def who_is_on_call(
    schedule: Schedule, overrides: OverrideStore, roster: str, layer: str, at: datetime
) -> tuple[Person | None, str]:
    """Whoever is on call in the roster's layer at `at`, overrides included; else None and the reason (a gap)."""
    try:
        roster = schedule.roster(roster).id  # overrides are stored under the roster's own id, whatever the case
    except NotFound as problem:
        return None, problem.detail
    found = on_call(schedule, roster, layer, at, overrides.overlapping(roster, at, at + timedelta(seconds=1)))
    if found is None:
        return None, f"nobody is on call in {roster} {layer} (a gap in the schedule)"
    return found, ""


def overrides_around(schedule: Schedule, overrides: OverrideStore, roster: Roster, at: datetime) -> list[Override]:
    """The overrides that can matter for who is on call now and next, and for the gaps ahead."""
    reach = max(HORIZON, timedelta(days=schedule.health.gap_days))
    return overrides.overlapping(roster.id, at - LOOKBACK, at + reach)


def current_warnings(schedule: Schedule, overrides: OverrideStore | None, now: datetime) -> list[str]:
    """Every roster's problems from now on, as sentences; overrides (which can fill gaps) are read when a store is
    given, i.e. when storage is known to answer."""
    reach = timedelta(days=schedule.health.gap_days)
    found: list[Problem] = []
    for roster in schedule.rosters:
        around = overrides.overlapping(roster.id, now, now + reach) if overrides else []
        found += roster_problems(schedule, roster, now, around)
    return [problem.detail for problem in found]
