"""Readiness against Azurite: a resolved incident's summary row is written by the `readiness` queue's consumer
(reached through notifications, also for a corrected milestone), overwritten by newer views only, taken out when the
incident reopens; GET /api/metrics aggregates the rows of the window it is asked about — combining month tallies
kept by digest ETag to exactly the figures of aggregating the window's summaries — and refuses bad parameters with a
400 that changes nothing."""

from __future__ import annotations

import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest
import requests

from functions import context
from shared.catalog.services import load_catalog
from shared.core.timeutil import iso, utc_now
from shared.incidents.changes import change_message
from shared.incidents.store import IncidentStore
from shared.oncall.people import load_directory
from shared.oncall.schedule import PRIMARY
from shared.oncall.shifts import shifts
from shared.readiness import fairness, materialise
from shared.readiness.figures import aggregate, combine
from shared.readiness.query import readiness
from shared.readiness.store import ReadinessStore, summary_row
from shared.readiness.summary import IncidentSummary, summarise
from shared.readiness.window import Window
from tests.conftest import ROOT, wait_until
from tests.integration.test_teams_chatops import say
from tests.unit.readiness.history import History, utc
from tests.unit.readiness.test_tally import generated_summaries

KEY = "metrics-test-key"
CATALOG = load_catalog(ROOT / "config")
PEOPLE = load_directory(ROOT / "config")


@pytest.fixture
def app(teams, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(the /api base, the Teams route) of a running Firebell."""
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    return teams.removesuffix("/teams"), teams


def metrics(api: str, key: str | None = KEY, **params: str) -> requests.Response:
    headers = {"x-functions-key": key} if key else {}
    return requests.get(f"{api}/metrics", params=params, headers=headers, timeout=30)


def _summary(number: int, fired: str, resolve_after: int, **options) -> IncidentSummary:
    history = History.alert(number, utc(fired), **options)
    history.say(f"resolve INC-{number}", "Tim Jones", utc(fired) + timedelta(minutes=resolve_after))
    service = CATALOG.service(history.incident.service) or CATALOG.default
    return summarise(history.incident, history.timeline, service, PEOPLE)


def test_a_resolution_and_a_later_correction_reach_the_metrics_and_a_reopening_takes_the_incident_out(app):
    api, teams = app
    declared = requests.post(
        f"{api}/incidents",
        json={"title": "Card payments fail", "severity": 2, "reporter": "Dana (support desk)", "service": "checkout"},
        headers={"x-functions-key": KEY},
        timeout=30,
    )
    assert declared.status_code == 201
    now = utc_now().replace(second=0, microsecond=0)
    for name, minutes in (("started", 120), ("detected", 110), ("acknowledged", 100), ("mitigated", 60)):
        say(teams, f"milestone INC-1 {name} {iso(now - timedelta(minutes=minutes))}", "Larry Brown")
    say(teams, "resolve INC-1 the card processor recovered", "Larry Brown")

    def response() -> dict:
        return metrics(api, service="checkout").json()

    resolved = wait_until(lambda: response() if response()["incidents"] == 1 else None, timeout=30)
    assert resolved["response"]["mitigate"] == {"count": 1, "median_seconds": 3600.0, "p90_seconds": 3600.0}
    assert resolved["detection"] == {"customer_first": 1, "customer_first_share": 1.0}
    assert resolved["cost"]["by_service"] == {"checkout": 250 * 60}

    # The review corrects the resolution time after the fact: only the milestone message says so.
    say(teams, f"milestone INC-1 resolved {iso(now - timedelta(minutes=30))}", "Larry Brown")

    def corrected_resolution() -> dict | None:
        document = response()
        return document if document["response"]["resolve"]["median_seconds"] == 5400.0 else None

    corrected = wait_until(corrected_resolution, timeout=30)
    assert {name: corrected["response"][name]["median_seconds"] for name in corrected["response"]} == {
        "detect": 600.0,
        "acknowledge": 600.0,
        "mitigate": 3600.0,
        "resolve": 5400.0,
    }
    assert corrected["cost"] == {
        "outage_minutes": 60.0,
        "total": 15000.0,
        "by_service": {"checkout": 15000.0},
        "by_month": {now.strftime("%Y-%m"): 15000.0},
    }
    assert corrected["window"]["service"] == "checkout" and corrected["incidents"] == 1
    # Nobody was paged (no Workflows URL here): every primary shift of the last 92 days was quiet.
    fairness = corrected["fairness"]["rosters"]
    assert set(fairness) == {roster.id for roster in context.schedule().rosters}
    assert all(found["quiet_shifts"] == found["shifts"] > 0 for found in fairness.values())

    say(teams, "reopen INC-1", "Larry Brown")
    wait_until(lambda: response()["incidents"] == 0, timeout=30)
    say(teams, "resolve INC-1 for good", "Larry Brown")
    wait_until(lambda: response()["incidents"] == 1, timeout=30)


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"from": "yesterday"}, "from: 'yesterday' is not a date (2026-11-01) or an ISO 8601 instant"),
        ({"to": "2026-13-01"}, "to: '2026-13-01' is not a date (2026-11-01) or an ISO 8601 instant"),
        ({"from": "2026-11-01", "to": "2026-10-01"}, "from must be before to"),
        (
            {"from": "1970-01-01", "to": "9998-01-01"},
            "the window from 1970-01-01 to 9998-01-01 is longer than 10 years",
        ),
        ({"service": "payments"}, "service 'payments' is not in the service catalog"),
        ({"severity": "7"}, "severity: must be a severity from 1 (worst) to 4, got 7"),
        ({"serivce": "checkout"}, "unknown parameter 'serivce'; expected from, to, service, severity"),
        (
            {"from": "0001-01-01T00:00:00+01:00"},
            "from: '0001-01-01T00:00:00+01:00' is not a date (2026-11-01) or an ISO 8601 instant",
        ),
    ],
)
def test_bad_parameters_are_a_400_naming_the_problem(app, params, detail):
    answer = metrics(app[0], **params)
    assert (answer.status_code, answer.json()) == (400, {"error": "invalid_input", "detail": detail})


def test_the_function_key_is_required_and_an_empty_history_has_empty_figures(app):
    assert metrics(app[0], key=None).status_code == 401
    answer = metrics(app[0], **{"from": "2026-01-01", "to": "2026-02-01", "severity": "SEV1"})
    assert answer.status_code == 200
    document = answer.json()
    assert document["window"] == {
        "from": "2026-01-01T00:00:00.000Z",
        "to": "2026-02-01T00:00:00.000Z",
        "service": None,
        "severity": "SEV1",
    }
    assert (document["incidents"], document["response"]["resolve"]) == (
        0,
        {"count": 0, "median_seconds": None, "p90_seconds": None},
    )
    assert document["detection"]["customer_first_share"] is None and document["load"] == {"people": {}, "rosters": {}}


def test_a_query_reads_the_window_and_its_filters_from_the_summary_rows(storage_account):
    store = ReadinessStore(storage_account)
    rows = [
        _summary(1, "2026-09-30T23:50", 20),  # declared in September: outside
        _summary(2, "2026-10-01T00:00", 30),
        _summary(3, "2026-10-31T23:59", 40, severity=1),
        _summary(4, "2026-11-15T12:00", 50, service="build-agents"),
        _summary(5, "2026-12-01T00:00", 60),  # the window's end is exclusive
    ]
    assert [store.save(row) for row in rows] == [True] * 5
    october_november = Window(utc("2026-10-01T00:00"), utc("2026-12-01T00:00"))
    assert sorted(s.incident_id for s in store.summaries(october_november)) == ["INC-2", "INC-3", "INC-4"]
    only = [s.incident_id for s in store.summaries(replace(october_november, service="checkout", severity=1))]
    assert only == ["INC-3"]
    # The rows hold everything the figures need: read back, a summary is what was written.
    assert sorted(store.summaries(october_november), key=lambda s: s.incident_id) == rows[1:4]


def test_a_row_is_replaced_only_by_a_newer_view_and_removed_only_by_a_newer_reopening(storage_account):
    store = ReadinessStore(storage_account)
    first = _summary(6, "2026-11-02T10:00", 30)
    newer = replace(first, version=first.version + 2, resolved_at=first.resolved_at + timedelta(minutes=5))
    assert (store.save(first), store.save(first)) == (True, False)  # a redelivery writes nothing new
    assert (store.save(newer), store.save(first)) == (True, False)  # an older view never overwrites a newer
    assert store.get("INC-6", first.declared_at) == newer
    assert not store.remove("INC-6", first.declared_at, version=first.version)  # reopened before the newer view
    assert store.remove("INC-6", first.declared_at, version=newer.version + 1)
    assert store.get("INC-6", first.declared_at) is None


def test_the_consumer_writes_the_same_row_for_the_same_incident_and_nothing_for_an_open_one(storage_account):
    incidents, readiness = IncidentStore(storage_account), ReadinessStore(storage_account)
    history = History.alert(7, utc("2026-11-02T10:00"))
    assert incidents.open_incident(history.incident)
    for event in history.timeline:
        incidents.append_event(event)
    message = change_message("INC-7", [history.timeline[-1].event_id], ["alert.fired"])
    assert materialise.on_change(message, incidents, readiness, CATALOG, PEOPLE) == materialise.UNCHANGED
    stored = incidents.load_incident("INC-7")
    history.say("resolve INC-7", "Tim Jones", utc("2026-11-02T10:40"))
    incidents.append_event(history.timeline[-1])
    incidents.save_incident(history.incident, stored.etag, was_open=True)
    message = change_message("INC-7", [history.timeline[-1].event_id], ["status.changed"])
    outcomes = [materialise.on_change(message, incidents, readiness, CATALOG, PEOPLE) for _ in range(2)]
    assert outcomes == [materialise.WRITTEN, materialise.UNCHANGED]
    row = readiness.get("INC-7", history.incident.declared_at)
    assert row == summarise(history.incident, history.timeline, CATALOG.service("checkout"), PEOPLE)
    assert (row.seconds("resolve"), row.cost) == (2400.0, 250 * 40)
    assert materialise.on_change(b"not json", incidents, readiness, CATALOG, PEOPLE) == materialise.UNCHANGED


def test_the_month_digest_follows_every_write_and_a_rebuild_from_the_rows_gives_the_same(storage_account):
    writer, reader = ReadinessStore(storage_account), ReadinessStore(storage_account)  # two instances
    november = Window(utc("2026-11-01T00:00"), utc("2026-12-01T00:00"))
    first, second = _summary(8, "2026-11-03T10:00", 10), _summary(9, "2026-11-04T10:00", 20)
    writer.save(first)
    assert list(reader.summaries(november)) == [first]  # decoded now, and kept with the digest's ETag
    writer.save(second)
    assert sorted(reader.summaries(november), key=lambda s: s.incident_id) == [first, second]  # a new ETag
    writer.remove("INC-8", first.declared_at, version=first.version + 1)
    assert list(reader.summaries(november)) == [second]
    writer.table.delete_entity("2026-11", "digest")
    assert list(reader.summaries(november)) == []  # the digest is what a query reads
    assert writer.rebuild("2026-11") == 1 and list(reader.summaries(november)) == [second]


def test_incidents_resolving_at_once_in_one_month_all_reach_its_digest(storage_account):
    rows = [_summary(20 + n, f"2026-11-{10 + n:02d}T10:00", 10 + n) for n in range(8)]
    stores = [ReadinessStore(storage_account) for _ in rows]  # as on separate instances
    with ThreadPoolExecutor(len(rows)) as pool:
        written = list(pool.map(lambda pair: pair[0].save(pair[1]), zip(stores, rows, strict=True)))
    assert written == [True] * len(rows)
    november = Window(utc("2026-11-01T00:00"), utc("2026-12-01T00:00"))
    assert sorted(stores[0].summaries(november), key=lambda s: s.incident_id) == rows


def test_month_tallies_combine_to_exactly_the_figures_of_the_windows_summaries_and_follow_a_changed_digest(
    storage_account,
):
    generated = generated_summaries(
        random.Random(17), 240, utc("2026-01-01T00:00"), utc("2026-07-01T00:00"), whole_seconds=True
    )
    by_month = defaultdict(list)
    for summary in generated:
        by_month[summary.month].append(("upsert", summary_row(summary)))
    writer, reader = ReadinessStore(storage_account), ReadinessStore(storage_account)  # two instances
    for month, rows in by_month.items():
        writer.table.submit_transaction(rows)
        assert writer.rebuild(month) == len(rows)
    whole = Window(utc("2026-01-01T00:00"), utc("2026-07-01T00:00"))
    cut = Window(utc("2026-01-17T05:30"), utc("2026-05-09T12:00"))  # through January and May
    windows = [
        whole,
        cut,
        replace(cut, service="checkout"),
        replace(whole, severity=2),
        replace(whole, service="build-agents", severity=3),
        Window(utc("2026-03-10T00:00"), utc("2026-03-20T00:00")),  # inside one month
    ]

    def declared_in(window: Window, summaries: list[IncidentSummary]) -> list[IncidentSummary]:
        return [
            summary
            for summary in summaries
            if window.start <= summary.declared_at < window.end
            and window.service in (None, summary.service)
            and window.severity in (None, summary.severity)
        ]

    for window in windows:
        expected = aggregate(declared_in(window, generated))
        assert 0 < expected.incidents < len(generated) or window == whole
        assert combine(reader.tallies(window)) == expected  # decoded and tallied now
        assert combine(reader.tallies(window)) == expected  # from the tallies kept with each digest's ETag

    # Another instance corrects a March incident and removes one of April: the reader's next answer has both.
    march = next(summary for summary in generated if summary.month == "2026-03")
    corrected = replace(march, version=march.version + 1, resolved_at=march.resolved_at + timedelta(hours=5))
    april = next(summary for summary in generated if summary.month == "2026-04")
    assert writer.save(corrected) and writer.remove(april.incident_id, april.declared_at, april.version + 1)
    changed = [corrected if summary is march else summary for summary in generated if summary is not april]
    for window in windows:
        assert combine(reader.tallies(window)) == aggregate(declared_in(window, changed))

    # Fairness counts the pages of the window's incidents on the last 92 days' shifts: the pages a tally gives for
    # that span are all that can count.
    now = utc("2026-06-20T00:00")
    schedule = context.schedule()
    found = readiness(whole, reader, schedule, lambda roster, start, end: [], now)
    assert found.figures == aggregate(changed) and found.covered == (now - fairness.SPAN, now)
    paged = [page for summary in changed for page in summary.paged]
    for roster in schedule.rosters:
        expected = fairness.fairness(shifts(schedule, roster.id, PRIMARY, *found.covered), paged)
        assert found.rotations[roster.id] == expected
    assert sum(rotation.shifts - rotation.quiet for rotation in found.rotations.values()) > 0
