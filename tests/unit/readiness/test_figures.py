"""Figures of many incidents from their summaries: exact medians, p90s, counts per grouping, load, cost and
promises; and, for any history hypothesis makes, aggregating the stored summaries equals computing the same figures
straight from the incidents' raw timelines."""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from datetime import timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.catalog.services import load_catalog
from shared.core.timeutil import iso, parse_instant
from shared.incidents.timeline import (
    ACKNOWLEDGED,
    ALERT_FIRED,
    ESCALATION_PAGED,
    FOLLOW_UP_ADDED,
    MILESTONE_CORRECTED,
    PUBLIC_UPDATE,
    STATUS_CHANGED,
)
from shared.oncall.people import load_directory
from shared.readiness import digest
from shared.readiness.distribution import Spread, spread
from shared.readiness.figures import aggregate
from shared.readiness.hours import OFF_HOURS, SLEEP_HOURS, WORKING_HOURS
from shared.readiness.store import summary_from_json, summary_json
from shared.readiness.summary import IncidentSummary, summarise
from tests.conftest import ROOT
from tests.unit.readiness.history import History, utc

CATALOG = load_catalog(ROOT / "config")
PEOPLE = load_directory(ROOT / "config")
NAMES = [person.name for person in PEOPLE.people]


def _resolved(number: int, fired: str, minutes: dict[str, int], **options) -> IncidentSummary:
    history = History.alert(number, utc(fired), **options)
    start = history.incident.detected_at
    ident = history.incident.id
    if "ack" in minutes:
        history.say(f"ack {ident}", "Tim Jones", start + timedelta(minutes=minutes["ack"]))
    history.say(f"update {ident} monitoring Fixed.", "Tim Jones", start + timedelta(minutes=minutes["mitigate"]))
    history.say(f"resolve {ident}", "Tim Jones", start + timedelta(minutes=minutes["resolve"]))
    service = CATALOG.service(history.incident.service) or CATALOG.default
    return summarise(history.incident, history.timeline, service, PEOPLE)


def test_medians_p90s_and_counts_overall_and_per_grouping_are_exact():
    summaries = [
        _resolved(1, "2026-10-05T10:00", {"ack": 2, "mitigate": 10, "resolve": 20}),
        _resolved(2, "2026-10-20T10:00", {"ack": 4, "mitigate": 30, "resolve": 40}, severity=1),
        _resolved(3, "2026-11-02T10:00", {"ack": 10, "mitigate": 50, "resolve": 60}, service="build-agents"),
        # No `ack`: the update that mitigated it acknowledged it too (the lifecycle's rule).
        _resolved(4, "2026-11-03T10:00", {"mitigate": 5, "resolve": 5}, source="customer"),
    ]
    figures = aggregate(summaries)
    assert figures.incidents == 4 and (figures.customer_first, figures.customer_first_share) == (1, 0.25)
    assert figures.response == {
        "detect": Spread(4, 0.0, 0.0),
        "acknowledge": Spread(4, 270.0, 600.0),  # 2, 4, 5, 10 min
        "mitigate": Spread(4, 1200.0, 3000.0),  # 5, 10, 30, 50 min: median between 10 and 30, p90 the 4th
        "resolve": Spread(4, 1800.0, 3600.0),
    }
    assert figures.grouped["month"]["2026-10"]["resolve"] == Spread(2, 1800.0, 2400.0)
    assert figures.grouped["month"]["2026-11"]["acknowledge"] == Spread(2, 450.0, 600.0)
    assert list(figures.grouped["severity"]) == ["SEV1", "SEV2"]
    assert figures.grouped["source"]["customer"]["mitigate"] == Spread(1, 300.0, 300.0)
    assert figures.grouped["service"]["build-agents"]["mitigate"] == Spread(1, 3000.0, 3000.0)
    # checkout: 250 per minute; build-agents: 5 per minute.
    assert figures.cost_by_service == {"build-agents": 250.0, "checkout": 250 * (10 + 30 + 5)}
    assert figures.cost_by_month == {"2026-10": 250 * 40, "2026-11": 250.0 + 250 * 5}
    assert (figures.outage_minutes, figures.cost) == (95.0, 250.0 + 250 * 45)


def test_load_counts_pages_per_person_and_roster_by_band_and_hour():
    history = History.alert(5, utc("2026-11-23T10:00"))  # a Monday
    history.paged("Larry Brown", utc("2026-11-23T10:00"))  # 10:00 London: working hours
    history.paged("Larry Brown", utc("2026-11-23T23:00"), step=1)  # 23:00: sleep hours
    history.paged("Tim Jones", utc("2026-11-24T02:00"), step=2)  # 19:00 Denver: off hours
    history.say("resolve INC-5", "Tim Jones", utc("2026-11-24T03:00"))
    figures = aggregate([summarise(history.incident, history.timeline, CATALOG.service("checkout"), PEOPLE)])
    larry = figures.load_by_person["Larry Brown"]
    assert (larry.pages, larry.by_period) == (2, {WORKING_HOURS: 1, OFF_HOURS: 0, SLEEP_HOURS: 1})
    assert [hour for hour, count in enumerate(larry.by_hour) if count] == [10, 23]
    assert figures.load_by_person["Tim Jones"].by_period == {WORKING_HOURS: 0, OFF_HOURS: 1, SLEEP_HOURS: 0}
    assert list(figures.load_by_roster) == ["payments"] and figures.load_by_roster["payments"].pages == 3


def test_no_incidents_give_empty_figures_not_errors():
    figures = aggregate([])
    assert (figures.incidents, figures.customer_first_share, figures.response["resolve"]) == (
        0,
        None,
        Spread(0, None, None),
    )


def test_the_p90_is_a_measured_value_by_nearest_rank():
    assert spread(range(1, 11)) == Spread(10, 5.5, 9)
    assert spread([7.0]) == Spread(1, 7.0, 7.0)
    assert spread(range(1, 12)).p90 == 10


# --- aggregating summaries equals computing from raw timelines --------------------------------------------------

minutes = st.integers(min_value=1, max_value=600)


@st.composite
def histories(draw) -> History:
    number = draw(st.integers(min_value=1, max_value=10_000))
    fired = utc("2026-01-01T00:00") + timedelta(minutes=draw(st.integers(min_value=0, max_value=525_600)))
    history = History.alert(
        number,
        fired,
        service=draw(st.sampled_from(["checkout", "build-agents", "default"])),
        severity=draw(st.integers(min_value=1, max_value=4)),
        source=draw(st.sampled_from(["monitoring", "customer", "slo", "person"])),
    )
    ident, now = history.incident.id, fired
    for person in draw(st.lists(st.sampled_from(NAMES), max_size=3)):
        now += timedelta(minutes=draw(minutes))
        history.paged(person, now, step=len(history.timeline))
    if draw(st.booleans()):
        now += timedelta(minutes=draw(minutes))
        history.say(f"ack {ident}", draw(st.sampled_from(NAMES)), now)
    for promise in draw(st.lists(st.one_of(st.none(), st.integers(min_value=1, max_value=120)), max_size=3)):
        now += timedelta(minutes=draw(minutes))
        words = f" Next update in {promise} min" if promise else ""
        history.say(f"update {ident} investigating Looking.{words}", "Tim Jones", now)
    if draw(st.booleans()):
        now += timedelta(minutes=draw(minutes))
        history.say(f"update {ident} monitoring Fixed.", "Tim Jones", now)
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        now += timedelta(minutes=1)
        history.say(f"action {ident} do better", "Tim Jones", now)
    now += timedelta(minutes=draw(minutes))
    history.say(f"resolve {ident}", "Tim Jones", now)
    if draw(st.booleans()):  # the review finds impact began earlier (or, mistakenly, later) than the first alert
        started = fired + timedelta(minutes=draw(st.integers(min_value=-240, max_value=30)))
        history.say(f"milestone {ident} started {iso(started)}", "Larry Brown", now + timedelta(hours=1))
    return history


def _raw(history: History) -> dict:
    """One incident's figures read straight off its timeline, without the summary's code."""
    events = sorted(history.timeline, key=lambda event: event.at)
    detected = next(event.at for event in events if event.kind == ALERT_FIRED)
    corrected = [parse_instant(e.data["to"]) for e in events if e.kind == MILESTONE_CORRECTED]
    monitoring = [e.at for e in events if e.kind == PUBLIC_UPDATE and e.data["status"] == "monitoring"]
    resolved = next(e.at for e in events if e.kind == STATUS_CHANGED and e.data["to"] == "resolved")
    # Acknowledged by `ack`, or by the first status move past triggered (an update or the resolution).
    acks = [e.at for e in events if e.kind in (ACKNOWLEDGED, PUBLIC_UPDATE)] + [resolved]
    started = corrected[-1] if corrected else detected
    mitigated = monitoring[0] if monitoring else resolved
    service = CATALOG.service(history.incident.service) or CATALOG.default
    pages = []
    for event in events:
        if event.kind == ESCALATION_PAGED:
            local = event.at.astimezone(ZoneInfo(PEOPLE.named(event.data["person"]).time_zone))
            night = local.hour >= 22 or local.hour < 8
            band = SLEEP_HOURS if night else WORKING_HOURS if local.weekday() < 5 and local.hour < 18 else OFF_HOURS
            pages.append((event.data["person"], band))
    updates = [e for e in events if e.kind == PUBLIC_UPDATE]
    promised = late = 0
    for index, update in enumerate(updates):
        if update.data["next_update_at"]:
            promised += 1
            following = [u.at for u in updates[index + 1 :]] + [resolved]
            late += following[0] > parse_instant(update.data["next_update_at"])
    outage = max(0.0, (mitigated - started).total_seconds() / 60)
    return {
        "service": history.incident.service,
        "severity": f"SEV{history.incident.severity}",
        "source": history.incident.source,
        "month": history.incident.declared_at.strftime("%Y-%m"),
        "detect": max(0.0, (detected - started).total_seconds()),
        "acknowledge": (min(acks) - detected).total_seconds(),
        "mitigate": max(0.0, (mitigated - started).total_seconds()),
        "resolve": max(0.0, (resolved - started).total_seconds()),
        "cost": outage * service.cost_per_minute,
        "pages": pages,
        "roster": service.roster,
        "follow_ups": sum(1 for e in events if e.kind == FOLLOW_UP_ADDED),
        "promised": promised,
        "late": late,
    }


def _median_p90(values: list[float]) -> Spread:
    if not values:
        return Spread(0, None, None)
    ordered = sorted(values)
    return Spread(len(ordered), statistics.median(ordered), ordered[math.ceil(len(ordered) * 9 / 10) - 1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(histories(), min_size=1, max_size=8, unique_by=lambda history: history.incident.id))
def test_aggregating_stored_summaries_equals_computing_from_raw_timelines(drawn):
    stored = []
    for history in drawn:
        service = CATALOG.service(history.incident.service) or CATALOG.default
        summary = summarise(history.incident, history.timeline, service, PEOPLE, rosters=["payments", "platform"])
        stored.append(summary_from_json(json.loads(json.dumps(summary_json(summary)))))  # as the row keeps it
        assert stored[-1] == summary == digest.summary_of(json.loads(json.dumps(digest.entry(summary))))
    figures = aggregate(stored)
    raw = [_raw(history) for history in drawn]

    durations = ("detect", "acknowledge", "mitigate", "resolve")
    for duration in durations:
        assert figures.response[duration] == _median_p90([r[duration] for r in raw if r[duration] is not None])
    for grouping in ("service", "severity", "source", "month"):
        groups = defaultdict(list)
        for r in raw:
            groups[r[grouping]].append(r)
        assert set(figures.grouped[grouping]) == set(groups)
        for key, members in groups.items():
            for duration in durations:
                expected = _median_p90([r[duration] for r in members if r[duration] is not None])
                assert figures.grouped[grouping][key][duration] == expected
    assert figures.customer_first == sum(r["source"] == "customer" for r in raw)
    by_service = defaultdict(float)
    for r in raw:
        by_service[r["service"]] += r["cost"]
    assert figures.cost_by_service.keys() == by_service.keys()
    for service, cost in by_service.items():
        assert math.isclose(figures.cost_by_service[service], cost, rel_tol=1e-9, abs_tol=1e-6)
    people = defaultdict(lambda: defaultdict(int))
    rosters = defaultdict(int)
    for r in raw:
        for person, band in r["pages"]:
            people[person][band] += 1
            rosters[r["roster"]] += 1
    assert {name: {b: n for b, n in load.by_period.items() if n} for name, load in figures.load_by_person.items()} == {
        name: dict(bands) for name, bands in people.items()
    }
    assert {name: load.pages for name, load in figures.load_by_roster.items()} == dict(rosters)
    assert figures.follow_ups == sum(r["follow_ups"] for r in raw)
    assert (figures.updates_promised, figures.updates_late) == (
        sum(r["promised"] for r in raw),
        sum(r["late"] for r in raw),
    )
