"""Rotation-limit compliance: whether each roster keeps within oncall.toml [rotation_limits] — enough people in
every 24×7 rotation, and no unbroken shift longer than the limit — with the figures to act on (who is short by how
many, which layer's longest shift, when). Pure; GET /api/oncall and the readiness report show it, and the health
problems too_few_people and long_shifts are its breaches in words (shared.oncall.health).

Shift length is judged on each layer's shifts as they resolve (a weekend rotation over a daily one can make one
person's Friday, weekend and Monday a single four-day stretch), from LOOKBACK before `now` to the health policy's
gap_days ahead; rotations alone, because overrides are exceptions, not the set-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.oncall.schedule import Roster, RotationLimits, Schedule
from shared.oncall.shifts import LOOKBACK, Shift, shifts


@dataclass(frozen=True)
class RotationCheck:
    layer: str
    rotation: str
    kind: str
    around_the_clock: bool  # only 24×7 rotations need min_people
    people: int

    def within(self, limits: RotationLimits) -> bool:
        return not self.around_the_clock or self.people >= limits.min_people


@dataclass(frozen=True)
class LayerCheck:
    layer: str
    longest: Shift | None  # the longest unbroken shift still running or ahead; None when nobody is planned

    @property
    def longest_hours(self) -> float | None:
        return None if self.longest is None else (self.longest.end - self.longest.start).total_seconds() / 3600

    def within(self, limits: RotationLimits) -> bool:
        return self.longest is None or self.longest.end - self.longest.start <= timedelta(days=limits.max_shift_days)


@dataclass(frozen=True)
class Compliance:
    roster: str
    limits: RotationLimits
    rotations: tuple[RotationCheck, ...]
    layers: tuple[LayerCheck, ...]

    @property
    def short_rotations(self) -> tuple[RotationCheck, ...]:
        return tuple(check for check in self.rotations if not check.within(self.limits))

    @property
    def long_layers(self) -> tuple[LayerCheck, ...]:
        return tuple(check for check in self.layers if not check.within(self.limits))

    @property
    def compliant(self) -> bool:
        return not self.short_rotations and not self.long_layers


def roster_compliance(schedule: Schedule, roster: Roster, now: datetime) -> Compliance:
    until = now + timedelta(days=schedule.health.gap_days)
    rotations: list[RotationCheck] = []
    layers: list[LayerCheck] = []
    for layer in roster.layers:
        rotations += [
            RotationCheck(layer.name, rotation.name, rotation.kind, rotation.around_the_clock, len(rotation.members))
            for rotation in layer.rotations
        ]
        planned = shifts(schedule, roster.id, layer.name, now - LOOKBACK, until)
        longest = max((s for s in planned if s.end > now), key=lambda s: s.end - s.start, default=None)
        layers.append(LayerCheck(layer.name, longest))
    return Compliance(roster.id, schedule.health.limits, tuple(rotations), tuple(layers))


def compliance(schedule: Schedule, now: datetime) -> list[Compliance]:
    return [roster_compliance(schedule, roster, now) for roster in schedule.rosters]
