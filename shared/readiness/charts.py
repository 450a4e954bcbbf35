"""The geometry of the readiness report's SVG charts: bars and lines placed from figures, on an axis whose top is a
"nice" number (1, 2, 2.5 or 5 × 10ⁿ) with four equal steps. Pure; the template only draws what this computes.

Coordinates are SVG user units (y grows downwards), rounded to 0.01 so a render is stable and a test can state them
exactly. A value that is None (no incident that month) has no point: a line breaks there rather than dropping to 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 20, 40  # margins: tick labels left, category labels below
STEPS = 4  # intervals on the value axis
BAR_SHARE = 0.7  # of each category's slot; the rest is space between bars
_NICE = (1.0, 2.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Tick:
    value: float
    y: float
    label: str


@dataclass(frozen=True)
class Category:
    label: str
    x: float  # centre of its slot


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Point:
    label: str
    value: float
    x: float
    y: float


@dataclass(frozen=True)
class Line:
    name: str
    points: tuple[Point, ...]
    path: str  # SVG path data: "M x y L x y …", a new M after each gap


@dataclass(frozen=True)
class Axes:
    width: float
    height: float
    left: float
    top: float
    right: float  # x of the plot's right edge
    bottom: float  # y of the plot's baseline
    ticks: tuple[Tick, ...]
    categories: tuple[Category, ...]


@dataclass(frozen=True)
class BarChart:
    axes: Axes
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class LineChart:
    axes: Axes
    lines: tuple[Line, ...]


def nice_top(largest: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at least `largest`; 1 for an empty or all-zero chart."""
    if largest <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(largest))
    return next(step * power for step in _NICE if step * power >= largest * (1 - 1e-12))


def whole_top(largest: float) -> float:
    """For counts: the smallest top at least `largest` whose four steps are whole 1, 2 or 5 × 10ⁿ (4, 8, 20, 40, …)."""
    wanted = max(1.0, largest / STEPS)
    power = 10.0 ** math.floor(math.log10(wanted))
    step = next(step * power for step in (1.0, 2.0, 5.0, 10.0) if step * power >= wanted * (1 - 1e-12))
    return step * STEPS


def bar_chart(
    values: Sequence[tuple[str, float]], label: Callable[[float], str] = str, *, whole: bool = False
) -> BarChart:
    """One bar per (category, value), in the order given; `label` formats the tick values; `whole`: the values are
    counts, so the ticks are whole numbers."""
    axes = _axes([name for name, _ in values], [value for _, value in values], label, whole)
    slot = (axes.right - axes.left) / max(1, len(values))
    scale = (axes.bottom - axes.top) / axes.ticks[-1].value
    bars = []
    for index, (name, value) in enumerate(values):
        height = value * scale
        bars.append(
            Bar(
                name,
                value,
                _r(axes.left + slot * (index + (1 - BAR_SHARE) / 2)),
                _r(axes.bottom - height),
                _r(slot * BAR_SHARE),
                _r(height),
            )
        )
    return BarChart(axes, tuple(bars))


def line_chart(
    categories: Sequence[str], series: Mapping[str, Sequence[float | None]], label: Callable[[float], str] = str
) -> LineChart:
    """One line per named series over the categories (each series has a value or None per category)."""
    known = [value for values in series.values() for value in values if value is not None]
    axes = _axes(categories, known, label, False)
    scale = (axes.bottom - axes.top) / axes.ticks[-1].value
    lines = []
    for name, values in series.items():
        points, path, previous = [], [], None
        for category, value in zip(axes.categories, values, strict=True):
            if value is None:
                previous = None
                continue
            point = Point(category.label, value, category.x, _r(axes.bottom - value * scale))
            path.append(f"{'L' if previous else 'M'} {_n(point.x)} {_n(point.y)}")
            points.append(point)
            previous = point
        lines.append(Line(name, tuple(points), " ".join(path)))
    return LineChart(axes, tuple(lines))


def _axes(categories: Sequence[str], values: Sequence[float], label: Callable[[float], str], whole: bool) -> Axes:
    largest = max(values, default=0.0)
    top = whole_top(largest) if whole else nice_top(largest)
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    ticks = tuple(
        Tick(top * step / STEPS, _r(bottom - (bottom - TOP) * step / STEPS), label(top * step / STEPS))
        for step in range(STEPS + 1)
    )
    slot = (right - LEFT) / max(1, len(categories))
    placed = tuple(Category(name, _r(LEFT + slot * (index + 0.5))) for index, name in enumerate(categories))
    return Axes(WIDTH, HEIGHT, LEFT, TOP, right, bottom, ticks, placed)


def _r(value: float) -> float:
    return round(value, 2) + 0.0  # + 0.0: never -0.0


def _n(value: float) -> str:
    """A coordinate in path data: 12.5, 80 (no trailing .0)."""
    return f"{value:g}"
