"""Median and 90th percentile of a set of durations. Pure.

The 90th percentile is the nearest rank (the smallest value at least 90 % of the values do not exceed): always one
of the measured values, so "p90 time to acknowledge: 14 min" names a real incident's time, never an interpolation.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    count: int
    median: float | None  # None without values
    p90: float | None


def spread(values: Iterable[float]) -> Spread:
    ordered = sorted(values)
    if not ordered:
        return Spread(0, None, None)
    rank = math.ceil(0.9 * len(ordered))
    return Spread(len(ordered), statistics.median(ordered), ordered[rank - 1])
