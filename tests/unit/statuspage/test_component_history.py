"""A component's 90-day history: each UTC day's worst state and its minutes, never counted twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shared.statuspage.component_history import (
    DayRecord,
    Disruption,
    daily_history,
    window_start,
)

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def _days(history, *days: int) -> list[DayRecord]:
    wanted = {date(2026, 3, day) for day in days}
    return [record for record in history.days if record.day in wanted]


def test_the_window_is_ninety_utc_days_ending_today():
    history = daily_history(["Checkout"], [], NOW)["Checkout"]
    assert len(history.days) == 90
    assert (history.days[0].day, history.days[-1].day) == (date(2025, 12, 30), date(2026, 3, 29))
    assert window_start(NOW) == datetime(2025, 12, 30, tzinfo=UTC)
    assert {record.status for record in history.days} == {"operational"}
    assert (history.uptime, history.uptime_text) == (100.0, "100.00 % uptime")
    assert history.days[0].summary == "Operational, 0 min of outage"


def test_a_day_takes_the_worst_state_and_counts_each_moment_once_under_it():
    disruptions = [
        Disruption("Checkout", "degraded_performance", _at(20, 10), _at(20, 11)),  # 10:00–11:00 degraded
        Disruption("Checkout", "partial_outage", _at(20, 10, 30), _at(20, 10, 50)),  # 20 min inside it: outage
        Disruption("Checkout", "major_outage", _at(20, 10, 40), _at(20, 10, 45)),  # 5 min inside that: major
        Disruption("Search", "major_outage", _at(21, 1), _at(21, 2)),  # another component's trouble
    ]
    (day,) = _days(daily_history(["Checkout", "Search"], disruptions, NOW)["Checkout"], 20)
    assert day.status == "major_outage"
    assert day.minutes == (("major_outage", 5), ("partial_outage", 15), ("degraded_performance", 40))
    assert day.outage_minutes == 20
    assert day.summary == "Major outage, 20 min of outage; 40 min degraded performance"


def test_an_incident_over_midnight_is_split_between_its_days():
    disruptions = [Disruption("Checkout", "partial_outage", _at(20, 23, 30), _at(21, 0, 45))]
    history = daily_history(["Checkout"], disruptions, NOW)["Checkout"]
    assert [(r.day.day, r.status, r.outage_minutes) for r in _days(history, 19, 20, 21, 22)] == [
        (19, "operational", 0),
        (20, "partial_outage", 30),
        (21, "partial_outage", 45),
        (22, "operational", 0),
    ]


def test_partial_minutes_round_up_so_a_short_outage_is_never_zero():
    disruptions = [Disruption("Checkout", "major_outage", _at(20, 10), _at(20, 10) + timedelta(seconds=20))]
    (day,) = _days(daily_history(["Checkout"], disruptions, NOW)["Checkout"], 20)
    assert (day.status, day.outage_minutes) == ("major_outage", 1)


def test_maintenance_outranks_degraded_performance_but_not_an_outage_and_is_not_downtime():
    disruptions = [
        Disruption("Checkout", "under_maintenance", _at(20, 1), _at(20, 3)),
        Disruption("Checkout", "degraded_performance", _at(20, 2), _at(20, 4)),
        Disruption("Search", "under_maintenance", _at(20, 1), _at(20, 3)),
        Disruption("Search", "partial_outage", _at(20, 2), _at(20, 2, 10)),
    ]
    histories = daily_history(["Checkout", "Search"], disruptions, NOW)
    (checkout,) = _days(histories["Checkout"], 20)
    (search,) = _days(histories["Search"], 20)
    assert (checkout.status, checkout.minutes) == (
        "under_maintenance",
        (("under_maintenance", 120), ("degraded_performance", 60)),
    )
    assert (
        checkout.summary == "Under maintenance, 0 min of outage; 120 min under maintenance; 60 min degraded performance"
    )
    assert (search.status, search.outage_minutes) == ("partial_outage", 10)
    assert histories["Checkout"].uptime == 100.0


def test_an_open_disruption_counts_until_now_and_nothing_outside_the_window_counts():
    disruptions = [
        Disruption("Checkout", "major_outage", _at(29, 11), _at(29, 18)),  # still going: counted until 12:00
        Disruption(
            "Checkout", "major_outage", datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 12, 30, 0, 30, tzinfo=UTC)
        ),
        Disruption("Checkout", "operational", _at(25, 1), _at(25, 2)),  # an override to operational: no trouble
    ]
    history = daily_history(["Checkout"], disruptions, NOW)["Checkout"]
    assert (history.days[-1].status, history.days[-1].outage_minutes) == ("major_outage", 60)
    assert (history.days[0].status, history.days[0].outage_minutes) == ("major_outage", 30)  # clipped at the start
    assert _days(history, 25)[0].status == "operational"
    window_minutes = (NOW - window_start(NOW)).total_seconds() / 60
    assert history.uptime == int((1 - 90 / window_minutes) * 10000) / 100 == 99.93


def test_uptime_is_floored_so_any_outage_reads_below_one_hundred():
    disruptions = [Disruption("Checkout", "partial_outage", _at(20, 10), _at(20, 10, 1))]
    history = daily_history(["Checkout"], disruptions, NOW)["Checkout"]
    assert (history.uptime, history.uptime_text) == (99.99, "99.99 % uptime")
