"""Median and 90th percentile of a set of durations. Pure.

The 90th percentile is the nearest rank (the smallest value at least 90 % of the values do not exceed): always one
of the measured values, so "p90 time to acknowledge: 14 min" names a real incident's time, never an interpolation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    count: int
    median: float | None  # None without values
    p90: float | None


def spread(values: Iterable[float]) -> Spread:
    return spread_of_sorted(sorted(values))


def spread_of_sorted(ordered: Sequence[float]) -> Spread:
    """The spread of values already in ascending order (merged tallies are: no second sort)."""
    count = len(ordered)
    if not count:
        return Spread(0, None, None)
    middle = count // 2
    median = ordered[middle] if count % 2 else (ordered[middle - 1] + ordered[middle]) / 2  # as statistics.median
    return Spread(count, median, ordered[math.ceil(0.9 * count) - 1])
