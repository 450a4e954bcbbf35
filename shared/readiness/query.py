"""What GET /api/metrics answers: the figures of the window's summaries (combined from tallies of its months), and
the fairness of each roster's primary rotation over the recent part of the window (shared.readiness.fairness). The
readiness report reads the same."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.oncall.override import Override
from shared.oncall.schedule import PRIMARY, Schedule
from shared.oncall.shifts import shifts
from shared.readiness import fairness
from shared.readiness.document import metrics_document
from shared.readiness.figures import Figures, combine
from shared.readiness.store import ReadinessStore
from shared.readiness.window import Window

# The overrides of a roster that overlap [start, end).
Overrides = Callable[[str, datetime, datetime], Sequence[Override]]


@dataclass(frozen=True)
class Readiness:
    window: Window
    figures: Figures
    covered: tuple[datetime, datetime] | None  # what fairness covers (None: none of the window has happened)
    rotations: dict[str, fairness.Fairness]  # roster → its primary rotation's fairness


def readiness(
    window: Window, store: ReadinessStore, schedule: Schedule, overrides: Overrides, now: datetime
) -> Readiness:
    tallies = store.tallies(window)
    covered = fairness.span(window.start, window.end, now)
    rotations: dict[str, fairness.Fairness] = {}
    if covered is not None:
        # Shifts are clipped to what fairness covers, so only the pages in it can count for one.
        paged = [(person, at) for part in tallies for at, person in part.paged_between(*covered)]
        for roster in schedule.rosters:
            found = shifts(schedule, roster.id, PRIMARY, *covered, overrides(roster.id, *covered))
            rotations[roster.id] = fairness.fairness(found, paged)
    return Readiness(window, combine(tallies), covered, rotations)


def metrics(
    window: Window, store: ReadinessStore, schedule: Schedule, overrides: Overrides, now: datetime
) -> dict[str, Any]:
    found = readiness(window, store, schedule, overrides, now)
    return metrics_document(window, found.figures, found.covered, found.rotations)
