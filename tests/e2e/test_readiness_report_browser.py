"""The readiness report in a real browser (headless Chromium, as tests/e2e/test_status_page_browser.py runs it),
fetched from a running Firebell with the function key in the URL: the DOM the browser built holds the figures of the
stored history in its tables, every chart is an accessible image with a title, and a screenshot is kept at
test-artifacts/readiness-report.png (gitignored)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from shared.core.timeutil import utc_now
from shared.readiness.store import ReadinessStore
from tests.e2e.test_status_page_browser import ARTIFACTS, _chromium, chromium  # noqa: F401 - chromium: the fixture
from tests.unit.readiness.report_tables import read_report
from tests.unit.readiness.test_report import resolved

KEY = "readiness-browser-key"


@pytest.fixture
def api(firebell, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    return firebell


def fired(days_ago: int, hour: int = 10) -> str:
    moment = (utc_now() - timedelta(days=days_ago)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment.replace(tzinfo=None).isoformat(timespec="minutes")


def test_the_report_renders_in_chromium_with_its_figures_in_text(chromium, api, storage_account, tmp_path):  # noqa: F811
    store = ReadinessStore(storage_account)
    history = [
        resolved(1, fired(200), 3, 20, 30, paged=[("Larry Brown", 0)]),
        resolved(2, fired(120), 5, 40, 60, service="build-agents"),
        resolved(3, fired(60), 9, 15, 25, paged=[("Priya Raman", 2)], source="customer"),
        resolved(4, fired(30), 1, 5, 10),
    ]
    for summary in history:
        store.save(summary)
    url = f"{api}/readiness/report?code={KEY}"
    assert requests.get(f"{api}/readiness/report", timeout=30).status_code == 401  # the same URL without the key
    dom = _chromium(chromium, tmp_path / "profile", url, "--dump-dom")
    report = read_report(dom)
    assert report.tables["summary"].rows[1:4] == [
        ["Incidents resolved", "4"],
        ["Reported by a customer first", "1 (25.0 %)"],
        ["Pages", "2"],
    ]
    assert report.tables["response"].rows[2:] == [
        ["Acknowledge", "4", "4", "9"],  # 1, 3, 5, 9 minutes
        ["Mitigate", "4", "17.5", "40"],  # 5, 15, 20, 40
        ["Resolve", "4", "27.5", "60"],  # 10, 25, 30, 60
    ]
    # checkout: 250 a minute × (20 + 15 + 5); build-agents: 5 × 40.
    assert report.tables["cost-data"].rows[1:] == [["checkout", "10,000.00"], ["build-agents", "200.00"]]
    assert sum(int(row[1]) for row in report.tables["load-data"].rows[1:]) == 2
    assert [int(row[1]) for row in report.tables["trends-data"].rows[1:]] == _per_month(history, report)
    assert [(chart.attributes["role"], chart.title) for chart in report.charts] == [
        ("img", "Time to detect, acknowledge, mitigate and resolve, by month"),
        ("img", "On-call load by hour of the day"),
        ("img", "Outage cost by service"),
    ]
    assert "script" not in report.tags

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "readiness-report.png"
    shot.unlink(missing_ok=True)
    _chromium(chromium, tmp_path / "profile", url, f"--screenshot={shot}", "--window-size=1100,4200")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def _per_month(history, report) -> list[int]:
    """Incidents per month of the trend table, counted from the history itself."""
    months = [row[0] for row in report.tables["trends-data"].rows[1:]]
    return [sum(1 for summary in history if summary.month == month) for month in months]
