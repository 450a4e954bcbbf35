"""The on-call API's JSON documents: rosters with the shift now and next, shifts, problems, rotation-limit
compliance, people and overrides."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.core.timeutil import iso
from shared.oncall.compliance import Compliance, roster_compliance
from shared.oncall.health import Problem, roster_problems
from shared.oncall.override import Override
from shared.oncall.people import Person
from shared.oncall.schedule import Roster, Schedule
from shared.oncall.shifts import Shift, roster_now_and_next


def roster_document(schedule: Schedule, roster: Roster, at: datetime, overrides: list[Override]) -> dict[str, Any]:
    layers = [
        {"layer": layer, "now": shift_document(current), "next": shift_document(following)}
        for layer, current, following in roster_now_and_next(schedule, roster, at, overrides)
    ]
    return {
        "id": roster.id,
        "name": roster.name,
        "time_zone": roster.time_zone,
        "layers": layers,
        "problems": [problem_document(p) for p in roster_problems(schedule, roster, at, overrides)],
        "rotation_limits": compliance_document(roster_compliance(schedule, roster, at)),
    }


def compliance_document(found: Compliance) -> dict[str, Any]:
    """The roster against oncall.toml [rotation_limits]: compliant or not, and the figures judged."""
    limits = found.limits
    return {
        "compliant": found.compliant,
        "limits": {"max_shift_days": limits.max_shift_days, "min_people": limits.min_people},
        "rotations": [
            {
                "layer": check.layer,
                "rotation": check.rotation,
                "kind": check.kind,
                "around_the_clock": check.around_the_clock,
                "people": check.people,
                "within_limits": check.within(limits),
            }
            for check in found.rotations
        ],
        "layers": [
            {
                "layer": check.layer,
                "longest_shift_hours": check.longest_hours,
                "start": iso(check.longest.start) if check.longest else None,
                "end": iso(check.longest.end) if check.longest else None,
                "within_limits": check.within(limits),
            }
            for check in found.layers
        ],
    }


def shift_document(shift: Shift | None) -> dict[str, Any] | None:
    if shift is None:
        return None
    return {
        "person": person_document(shift.person),
        "start": iso(shift.start),
        "end": iso(shift.end),
        "override": shift.override,
    }


def problem_document(problem: Problem) -> dict[str, Any]:
    return {
        "kind": problem.kind,
        "layer": problem.layer,
        "detail": problem.detail,
        "start": iso(problem.start) if problem.start else None,
        "end": iso(problem.end) if problem.end else None,
    }


def person_document(person: Person) -> dict[str, Any]:
    return {"name": person.name, "email": person.email, "time_zone": person.time_zone}


def override_document(override: Override) -> dict[str, Any]:
    return {
        "id": override.id,
        "roster": override.roster,
        "layer": override.layer,
        "person": person_document(override.person),
        "start": iso(override.start),
        "end": iso(override.end),
        "created_at": iso(override.created_at),
        "created_by": override.created_by,
    }
