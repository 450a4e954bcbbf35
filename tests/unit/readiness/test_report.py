"""The readiness report from a history this test builds: every table holds exactly the figures worked out by hand
below, each chart draws exactly its table's numbers and has an accessible name, and the page has no script."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.catalog.services import load_catalog
from shared.oncall.compliance import compliance
from shared.oncall.people import load_directory
from shared.readiness.figures import aggregate
from shared.readiness.query import Readiness
from shared.readiness.report import render_report, report_view, report_window
from shared.readiness.summary import IncidentSummary, summarise
from shared.readiness.window import Window
from tests.conftest import ROOT
from tests.unit.oncall.test_compliance import WEEKLY_PAIR
from tests.unit.oncall.test_shifts import schedule_from
from tests.unit.readiness.history import History, utc
from tests.unit.readiness.report_tables import read_report

CATALOG = load_catalog(ROOT / "config")
PEOPLE = load_directory(ROOT / "config")
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]


def resolved(number: int, fired: str, ack: int | None, mitigate: int, resolve: int, paged=(), **options):
    """An alert's incident acknowledged, mitigated (a `monitoring` update) and resolved so many minutes in; `paged`
    is (person, minutes in) of each page."""
    history = History.alert(number, utc(fired), **options)
    start, ident = history.incident.detected_at, history.incident.id
    for person, minutes in paged:
        history.paged(person, start + timedelta(minutes=minutes))
    if ack is not None:
        history.say(f"ack {ident}", "Tim Jones", start + timedelta(minutes=ack))
    history.say(f"update {ident} monitoring Fixed.", "Tim Jones", start + timedelta(minutes=mitigate))
    history.say(f"resolve {ident}", "Tim Jones", start + timedelta(minutes=resolve))
    service = CATALOG.service(history.incident.service) or CATALOG.default
    return summarise(history.incident, history.timeline, service, PEOPLE)


def history() -> list[IncidentSummary]:
    return [
        # Tim (Denver) paged at 10:01Z on Monday 5 October: 04:01 his time, sleep hours.
        resolved(1, "2026-10-05T10:00", 2, 10, 20, paged=[("Tim Jones", 1)]),
        # Larry (London, still on summer time on 20 October): 11:00 on a Tuesday, working hours.
        resolved(2, "2026-10-20T10:00", 4, 30, 40, paged=[("Larry Brown", 0)], severity=1),
        # Larry on Monday 2 November, back on GMT: 10:05, working hours. build-agents costs 5 a minute.
        resolved(3, "2026-11-02T10:00", 10, 50, 60, paged=[("Larry Brown", 5)], service="build-agents"),
        # A customer's report: no ack, so the update that mitigated it acknowledged it too.
        resolved(4, "2026-11-03T10:00", None, 5, 5, source="customer"),
        resolved(5, "2025-12-20T10:00", 1, 2, 3),  # before the report's twelve months: left out
    ]


def rendered(schedule_text: str = WEEKLY_PAIR, summaries: list[IncidentSummary] | None = None) -> str:
    window = report_window(NOW)
    chosen = [s for s in summaries or history() if window.start <= s.declared_at < window.end]
    schedule = schedule_from(schedule_text)
    found = Readiness(window, aggregate(chosen), None, {})
    return render_report(report_view(found, compliance(schedule, NOW), NOW))


def test_the_window_is_this_month_and_the_eleven_before_it():
    assert report_window(NOW) == Window(datetime(2026, 1, 1, tzinfo=UTC), NOW)
    assert report_window(datetime(2026, 3, 1, tzinfo=UTC)).start == datetime(2025, 4, 1, tzinfo=UTC)


def test_the_summary_and_response_tables_hold_the_figures_of_the_history():
    tables = read_report(rendered()).tables
    assert tables["summary"].rows == [
        ["Figure", "Value"],
        ["Incidents resolved", "4"],
        ["Reported by a customer first", "1 (25.0 %)"],
        ["Pages", "3"],
        ["Pages in working hours", "2"],
        ["Pages in off hours", "0"],
        ["Pages in sleep hours", "1"],
        ["Outage minutes", "95.0"],  # 10 + 30 + 50 + 5
        ["Outage cost", "11,500.00"],  # checkout 250 × 45, build-agents 5 × 50
        ["Follow-ups created", "0"],
        ["Follow-ups done", "0"],
        ["Public updates promised", "0"],
        ["Public updates late", "0"],
    ]
    assert tables["response"].rows == [
        ["Time to", "Incidents", "Median", "90th percentile"],
        ["Detect", "4", "0", "0"],
        ["Acknowledge", "4", "4.5", "10"],  # 2, 4, 5, 10 minutes
        ["Mitigate", "4", "20", "50"],  # 5, 10, 30, 50
        ["Resolve", "4", "30", "60"],  # 5, 20, 40, 60
    ]


def test_the_trend_chart_draws_its_table_month_by_month():
    report = read_report(rendered())
    table = report.tables["trends-data"]
    head = ["Month", "Incidents", *(f"{name} (median)" for name in ("Detect", "Acknowledge", "Mitigate", "Resolve"))]
    empty = [[month, "0", "—", "—", "—", "—"] for month in MONTHS]
    assert table.rows == [
        head,
        *empty,
        ["2026-10", "2", "0", "3", "20", "30"],
        ["2026-11", "2", "0", "7.5", "27.5", "32.5"],
        ["2026-12", "0", "—", "—", "—", "—"],
    ]
    trends = report.charts[0]
    assert (trends.attributes["role"], trends.attributes["aria-labelledby"]) == ("img", "trends-title trends-desc")
    assert trends.title == "Time to detect, acknowledge, mitigate and resolve, by month"
    # Four lines, each with a point for October and November only.
    assert trends.shapes == {"path": 4, "circle": 8}


def test_the_load_and_cost_charts_draw_their_tables():
    report = read_report(rendered())
    load = report.tables["load-data"].rows
    assert load[0] == ["Hour", "Pages"] and len(load) == 25
    assert {row[0]: row[1] for row in load[1:] if row[1] != "0"} == {
        "04:00–04:59": "1",  # Tim, Denver
        "10:00–10:59": "1",  # Larry in November
        "11:00–11:59": "1",  # Larry in October
    }
    cost_rows = [["Service", "Cost"], ["checkout", "11,250.00"], ["build-agents", "250.00"]]
    assert report.tables["cost-data"].rows == cost_rows
    _, bars, cost = report.charts
    assert (bars.title, bars.shapes) == ("On-call load by hour of the day", {"rect": 24})
    assert (cost.title, cost.shapes) == ("Outage cost by service", {"rect": 2})


def test_rotation_compliance_names_what_breaks_the_limits():
    tables = read_report(rendered()).tables
    assert tables["compliance"].rows == [
        ["Roster", "Within limits", "24×7 rotations short of people", "Longest unbroken shift", "Shifts too long"],
        ["ops", "no", "primary weekly: 2 people", "primary 7 d", "primary: 7 d"],
    ]
    accepted = read_report(rendered("[rotation_limits]\nmax_shift_days = 7\nmin_people = 2\n" + WEEKLY_PAIR))
    assert accepted.tables["compliance"].rows[1] == [
        "ops",
        "yes",
        "none (every 24×7 rotation has 2 or more)",
        "primary 7 d",
        "none (at most 7 days)",
    ]


def test_the_page_has_no_script_and_escapes_what_it_shows():
    hostile = replace(history()[0], service='<script>alert(1)</script><img src=x onerror="alert(2)">')
    html = rendered(summaries=[hostile])
    report = read_report(html)
    assert not set(report.tags) & {"script", "iframe", "img", "object", "embed", "link"}
    assert not [name for name in re.findall(r"\s([a-z-]+)=\"", html) if name.startswith("on")]
    assert report.tables["cost-data"].rows[1] == ['<script>alert(1)</script><img src=x onerror="alert(2)">', "2,500.00"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and '<html lang="en">' in html


def test_every_chart_draws_exactly_the_numbers_of_its_table():
    window = report_window(NOW)
    chosen = [s for s in history() if window.start <= s.declared_at < window.end]
    view = report_view(Readiness(window, aggregate(chosen), None, {}), [], NOW)
    assert [(bar.label, bar.value) for bar in view.cost.chart.bars] == [("checkout", 11250.0), ("build-agents", 250.0)]
    assert [row[1] for row in view.cost.table.rows] == ["11,250.00", "250.00"]
    assert [str(int(bar.value)) for bar in view.load.chart.bars] == [row[1] for row in view.load.table.rows]
    for column, line in enumerate(view.trends.chart.lines, start=2):
        drawn = {point.label: f"{point.value:g}" for point in line.points}
        tabled = {row[0]: row[column] for row in view.trends.table.rows if row[column] != "—"}
        assert {f"{datetime.strptime(m, '%Y-%m'):%b}": value for m, value in tabled.items()} == drawn, line.name
    assert [line.name for line in view.trends.chart.lines] == ["detect", "acknowledge", "mitigate", "resolve"]
