"""The window a metrics query asks about: dates or instants, defaults from the clock, and every month it touches."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.catalog.services import load_catalog
from shared.readiness.window import Window, parse_window
from tests.conftest import ROOT

CATALOG = load_catalog(ROOT / "config")
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_without_parameters_the_window_is_the_90_days_before_now():
    assert parse_window({"code": "key"}, CATALOG, NOW) == Window(datetime(2026, 9, 7, 12, 0, tzinfo=UTC), NOW)


def test_dates_are_midnight_utc_and_instants_keep_their_moment():
    window = parse_window({"from": "2026-11-01", "to": "2026-11-30T23:00:00+01:00", "severity": "sev2"}, CATALOG, NOW)
    assert (window.start, window.end, window.severity) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 30, 22, 0, tzinfo=UTC),
        2,
    )


def test_the_months_of_a_window_run_across_the_year_end_and_stop_before_an_exclusive_end():
    window = Window(datetime(2025, 11, 15, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    assert window.month_list() == ["2025-11", "2025-12", "2026-01", "2026-02"]
