"""The internal readiness report: one static HTML page of the figures GET /api/metrics gives (shared.readiness.query)
— time to detect, acknowledge, mitigate and resolve by month, on-call load by hour of the day, outage cost by
service, fairness and each roster's rotation-limit compliance. Pure: the figures are given, the page is rendered
through Jinja2 with autoescaping, the charts are SVG drawn from shared.readiness.charts, and there is no script.

Every chart has a text equivalent: an SVG title and description (role="img", aria-labelledby) and a table of exactly
the numbers it draws. Times are in minutes, costs in the catalog's currency to the cent. Never public: it names
people and costs, and lives in the private `postmortems` container (shared.readiness.report_store).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from jinja2 import Environment

from shared.core import templates
from shared.core.timeutil import iso
from shared.oncall.compliance import Compliance
from shared.readiness import charts
from shared.readiness.distribution import Spread
from shared.readiness.hours import PERIODS
from shared.readiness.query import Readiness
from shared.readiness.summary import DURATIONS, RESOLVE
from shared.readiness.window import Window

MONTHS = 12  # the report covers this month and the eleven before it
TITLES = {"detect": "Detect", "acknowledge": "Acknowledge", "mitigate": "Mitigate", "resolve": "Resolve"}
PERIOD_TITLES = {"working_hours": "Working hours", "off_hours": "Off hours", "sleep_hours": "Sleep hours"}
NONE = "—"  # no value: no incident, or the duration never happened


@dataclass(frozen=True)
class Table:
    caption: str
    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Figure:
    ident: str  # the id its title, description and table hang on
    title: str
    description: str
    chart: charts.BarChart | charts.LineChart
    table: Table


@dataclass(frozen=True)
class ReportView:
    generated_at: datetime
    window: Window
    summary: Table
    response: Table
    trends: Figure
    load: Figure
    cost: Figure
    compliance: Table
    fairness: Table


def report_window(now: datetime) -> Window:
    """From the first day of the month MONTHS − 1 months back until now."""
    year, month = now.year, now.month - (MONTHS - 1)
    while month < 1:
        year, month = year - 1, month + 12
    return Window(datetime(year, month, 1, tzinfo=now.tzinfo), now)


def report_view(found: Readiness, compliance: Sequence[Compliance], now: datetime) -> ReportView:
    figures = found.figures
    pages = _pages_by_hour(found)
    periods = {period: sum(load.by_period[period] for load in figures.load_by_person.values()) for period in PERIODS}
    summary = Table(
        "The window's figures",
        ("Figure", "Value"),
        (
            ("Incidents resolved", str(figures.incidents)),
            ("Reported by a customer first", _share(figures.customer_first, figures.customer_first_share)),
            ("Pages", str(sum(pages))),
            *((f"Pages in {PERIOD_TITLES[period].lower()}", str(periods[period])) for period in PERIODS),
            ("Outage minutes", f"{figures.outage_minutes:.1f}"),
            ("Outage cost", _money(figures.cost)),
            ("Follow-ups created", str(figures.follow_ups)),
            ("Follow-ups done", str(figures.follow_ups_done)),
            ("Public updates promised", str(figures.updates_promised)),
            ("Public updates late", str(figures.updates_late)),
        ),
    )
    response = Table(
        "Response times over the window, in minutes",
        ("Time to", "Incidents", "Median", "90th percentile"),
        tuple(_spread_row(TITLES[name], figures.response[name]) for name in DURATIONS),
    )
    return ReportView(
        generated_at=now,
        window=found.window,
        summary=summary,
        response=response,
        trends=_trends(found),
        load=_load(pages),
        cost=_cost(figures.cost_by_service),
        compliance=_compliance(compliance),
        fairness=_fairness(found),
    )


def render_report(view: ReportView) -> str:
    return _environment().get_template("report.html").render(view=view, durations=DURATIONS, titles=TITLES)


# --- the charts and their tables --------------------------------------------------------------------------------------


def _trends(found: Readiness) -> Figure:
    months = found.window.month_list()
    by_month = found.figures.grouped["month"]
    medians = {
        name: [_minutes(by_month[month][name].median) if month in by_month else None for month in months]
        for name in DURATIONS
    }
    chart = charts.line_chart([_month_label(month) for month in months], medians, label=_axis_minutes)
    rows = tuple(
        (
            month,
            str(by_month[month][RESOLVE].count) if month in by_month else "0",
            *(_number(medians[name][index]) for name in DURATIONS),
        )
        for index, month in enumerate(months)
    )
    head = ("Month", "Incidents", *(f"{TITLES[name]} (median)" for name in DURATIONS))
    return Figure(
        "trends",
        "Time to detect, acknowledge, mitigate and resolve, by month",
        "Median minutes per month for each of the four times; a month without incidents has no point.",
        chart,
        Table("Median minutes by month (the chart's data)", head, rows),
    )


def _pages_by_hour(found: Readiness) -> list[int]:
    hours = [0] * 24
    for load in found.figures.load_by_person.values():
        for hour, count in enumerate(load.by_hour):
            hours[hour] += count
    return hours


def _load(pages: list[int]) -> Figure:
    values = [(f"{hour:02d}", float(count)) for hour, count in enumerate(pages)]
    chart = charts.bar_chart(values, label=_axis_count, whole=True)
    rows = tuple((f"{hour:02d}:00–{hour:02d}:59", str(count)) for hour, count in enumerate(pages))
    return Figure(
        "load",
        "On-call load by hour of the day",
        "Pages by the hour they reached each person, on that person's own clock; 24 bars from 00 to 23.",
        chart,
        Table("Pages by hour of the person's day (the chart's data)", ("Hour", "Pages"), rows),
    )


def _cost(by_service: dict[str, float]) -> Figure:
    ordered = sorted(by_service.items(), key=lambda item: (-round(item[1], 2), item[0]))
    chart = charts.bar_chart([(name, round(cost, 2)) for name, cost in ordered], label=_axis_count)
    rows = tuple((name, _money(cost)) for name, cost in ordered)
    return Figure(
        "cost",
        "Outage cost by service",
        "Minutes of customer impact times each service's cost per minute, largest first.",
        chart,
        Table("Outage cost by service (the chart's data)", ("Service", "Cost"), rows),
    )


def _compliance(found: Sequence[Compliance]) -> Table:
    rows = []
    for roster in found:
        limits = roster.limits
        short = [f"{c.layer} {c.rotation}: {c.people} people" for c in roster.short_rotations]
        long = [f"{c.layer}: {_hours(c.longest_hours)}" for c in roster.long_layers]
        longest = "; ".join(f"{c.layer} {_hours(c.longest_hours)}" for c in roster.layers)
        rows.append(
            (
                roster.roster,
                "yes" if roster.compliant else "no",
                "; ".join(short) or f"none (every 24×7 rotation has {limits.min_people} or more)",
                longest,
                "; ".join(long) or f"none (at most {limits.max_shift_days} days)",
            )
        )
    head = ("Roster", "Within limits", "24×7 rotations short of people", "Longest unbroken shift", "Shifts too long")
    return Table("Rotation limits (oncall.toml [rotation_limits])", head, tuple(rows))


def _fairness(found: Readiness) -> Table:
    rows = tuple(
        (
            roster,
            str(fair.shifts),
            _number(fair.per_shift.median),
            _number(fair.per_shift.p90),
            str(fair.busiest),
            str(fair.quiet),
        )
        for roster, fair in found.rotations.items()
    )
    span = f"{iso(found.covered[0])} to {iso(found.covered[1])}" if found.covered else "nothing yet"
    head = ("Roster", "Primary shifts", "Pages per shift (median)", "(90th percentile)", "Busiest shift", "Quiet")
    return Table(f"Fairness of the primary rotations, {span}", head, rows)


# --- formatting ---------------------------------------------------------------------------------------------------


def _spread_row(title: str, spread: Spread) -> tuple[str, ...]:
    return (title, str(spread.count), _number(_minutes(spread.median)), _number(_minutes(spread.p90)))


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _number(value: float | None) -> str:
    return NONE if value is None else f"{value:g}" if value == int(value) else f"{value:.1f}"


def _hours(hours: float | None) -> str:
    if hours is None:
        return "nobody planned"
    days, rest = divmod(round(hours), 24)
    return f"{days} d {rest} h" if days and rest else f"{days} d" if days else f"{rest} h"


def _money(amount: float) -> str:
    return f"{amount:,.2f}"


def _share(count: int, share: float | None) -> str:
    return f"{count} ({NONE})" if share is None else f"{count} ({share * 100:.1f} %)"


def _month_label(month: str) -> str:
    """The axis shows the month's name only (twelve fit); the table beside the chart names the year."""
    return datetime.strptime(month, "%Y-%m").strftime("%b")


def _axis_minutes(value: float) -> str:
    return f"{value:g} min"


def _axis_count(value: float) -> str:
    return f"{value:,g}"


@cache
def _environment() -> Environment:
    env = templates.environment("shared.readiness")
    env.filters.update(when=iso, coordinate=lambda value: f"{value:g}")
    return env
