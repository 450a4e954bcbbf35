"""One resolved incident's readiness figures, exact, from a history made by the real rules: the corrected impact
start wins, pages fall in the band of each person's own day (daylight saving included), promises of public updates
are kept or late, and an open incident has no figures."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from shared.catalog.services import load_catalog
from shared.incidents.timeline import FOLLOW_UP_ADDED, FOLLOW_UP_DONE, TimelineEvent, event_id
from shared.oncall.people import load_directory
from shared.readiness import digest
from shared.readiness.hours import OFF_HOURS, SLEEP_HOURS, WORKING_HOURS, period
from shared.readiness.summary import NotClosed, PageTally, summarise
from tests.conftest import ROOT
from tests.unit.readiness.history import History, utc

CATALOG = load_catalog(ROOT / "config")
PEOPLE = load_directory(ROOT / "config")
CHECKOUT = CATALOG.service("checkout")  # 250 per outage minute, roster payments


def night_in_sydney() -> History:
    """Monday 6 April 2026, the day after Sydney left daylight saving (AEDT +11 → AEST +10)."""
    history = History.alert(7, utc("2026-04-06T21:20"))
    history.paged("Priya Raman", utc("2026-04-06T21:30"))  # Tuesday 07:30 in Sydney (08:30 a week earlier)
    history.paged("Larry Brown", utc("2026-04-06T21:35"), step=1)  # 22:35 in London (BST)
    history.say("ack INC-7", "Priya Raman", utc("2026-04-06T21:38"))
    history.say(
        "update INC-7 investigating Payments fail. Next update in 30 min", "Priya Raman", utc("2026-04-06T21:40")
    )
    history.say("update INC-7 identified A bad deploy. Next update in 15 min", "Priya Raman", utc("2026-04-06T22:15"))
    history.say("update INC-7 monitoring Payments succeed again.", "Priya Raman", utc("2026-04-06T22:20"))
    history.say("action INC-7 alert on the payment error rate", "Priya Raman", utc("2026-04-06T22:45"))
    history.say("resolve INC-7 rolled back", "Priya Raman", utc("2026-04-06T22:50"))
    return history


def test_every_figure_of_a_resolved_incident_is_exact():
    summary = summarise(night_in_sydney().incident, night_in_sydney().timeline, CHECKOUT, PEOPLE)
    figures = [summary.seconds(name) for name in ("detect", "acknowledge", "mitigate", "resolve")]
    assert figures == [0.0, 18 * 60, 60 * 60, 90 * 60]  # impact starts with the alert until someone knows better
    assert (summary.outage_minutes, summary.cost, summary.source, summary.customer_first) == (
        60.0,
        15_000.0,
        "monitoring",
        False,
    )
    assert summary.pages == (
        PageTally("Larry Brown", "payments", SLEEP_HOURS, 22, 1),
        PageTally("Priya Raman", "payments", SLEEP_HOURS, 7, 1),
    )
    assert (summary.follow_ups, summary.updates_promised, summary.updates_late, summary.updates_kept) == (1, 2, 1, 1)
    assert (summary.month, summary.incident_id, summary.severity) == ("2026-04", "INC-7", 2)


def test_a_corrected_milestone_wins_even_when_corrected_after_the_resolution():
    history = night_in_sydney()
    history.say("milestone INC-7 started 2026-04-06T21:05Z", "Larry Brown", utc("2026-04-07T09:05"))
    history.say("milestone INC-7 acknowledged 2026-04-06T21:33Z", "Larry Brown", utc("2026-04-07T09:06"))
    summary = summarise(history.incident, history.timeline, CHECKOUT, PEOPLE)
    figures = [summary.seconds(name) for name in ("detect", "acknowledge", "mitigate", "resolve")]
    assert figures == [15 * 60, 13 * 60, 75 * 60, 105 * 60]
    assert (summary.outage_minutes, summary.cost) == (75.0, 18_750.0)
    assert summary.basis > summarise(night_in_sydney().incident, night_in_sydney().timeline, CHECKOUT, PEOPLE).basis


def test_the_same_utc_time_is_working_hours_in_sydney_before_the_clocks_change_and_sleep_after():
    before = History.alert(8, utc("2026-04-02T21:20")).paged("Priya Raman", utc("2026-04-02T21:30"))
    after = History.alert(9, utc("2026-04-06T21:20")).paged("Priya Raman", utc("2026-04-06T21:30"))
    tallies = []
    for history in (before, after):
        history.say(f"resolve {history.incident.id}", "Priya Raman", history.timeline[-1].at)
        tallies += summarise(history.incident, history.timeline, CHECKOUT, PEOPLE).pages
    assert [(tally.period, tally.hour) for tally in tallies] == [(WORKING_HOURS, 8), (SLEEP_HOURS, 7)]


@pytest.mark.parametrize(
    ("at", "zone", "band"),
    [
        ("2026-03-09T14:30", "America/Denver", WORKING_HOURS),  # Monday 08:30 MDT, the day after the change
        ("2026-03-06T14:30", "America/Denver", SLEEP_HOURS),  # Friday 07:30 MST
        ("2026-10-25T01:30", "Europe/London", SLEEP_HOURS),  # 01:30 GMT, the hour that happens twice
        ("2026-10-24T17:30", "Europe/London", OFF_HOURS),  # Saturday 18:30 BST
        ("2026-10-26T17:59", "Europe/London", WORKING_HOURS),  # Monday 17:59 GMT
        ("2026-10-26T18:00", "Europe/London", OFF_HOURS),  # Monday 18:00 GMT: the working day is over
        ("2026-10-26T22:00", "Europe/London", SLEEP_HOURS),
        ("2026-10-26T21:59", "UTC", OFF_HOURS),
    ],
)
def test_a_moment_falls_in_the_band_of_the_persons_own_wall_clock(at, zone, band):
    assert period(utc(at), zone) == band


def test_pages_asked_for_by_name_count_for_the_roster_named_or_for_nobodys():
    history = History.alert(10, utc("2026-11-23T10:00"))
    history.say("page platform INC-10", "Tim Jones", utc("2026-11-23T10:01"))
    roster_request = history.timeline[-1].event_id
    history.say("page Aiko Tanaka INC-10", "Tim Jones", utc("2026-11-23T10:02"))
    person_request = history.timeline[-1].event_id
    history.paged("Marcus Lee", utc("2026-11-23T10:01"), step=7, request=roster_request)
    history.paged("Aiko Tanaka", utc("2026-11-23T10:02"), step=8, request=person_request)
    history.say("resolve INC-10", "Tim Jones", utc("2026-11-23T10:30"))
    summary = summarise(history.incident, history.timeline, CHECKOUT, PEOPLE, rosters=["payments", "platform"])
    assert summary.pages == (
        PageTally("Aiko Tanaka", "", OFF_HOURS, 19, 1),  # Monday 19:02 in Tokyo
        PageTally("Marcus Lee", "platform", SLEEP_HOURS, 2, 1),  # 02:01 in Los Angeles
    )


def test_a_customer_reported_incident_without_a_known_start_measures_from_the_report():
    history = History.alert(11, utc("2026-11-23T10:00"), source="customer")
    history.say("resolve INC-11", "Tim Jones", utc("2026-11-23T10:45"))
    summary = summarise(history.incident, history.timeline, CHECKOUT, PEOPLE)
    assert summary.customer_first and summary.seconds("detect") == 0.0 and summary.seconds("acknowledge") == 45 * 60
    assert (summary.pages, summary.updates_promised, summary.outage_minutes) == ((), 0, 45.0)


def test_an_open_incident_has_no_figures_yet():
    history = History.alert(12, utc("2026-11-23T10:00"))
    with pytest.raises(NotClosed):
        summarise(history.incident, history.timeline, CHECKOUT, PEOPLE)


def test_a_follow_up_counts_as_done_once_however_often_its_task_is_closed():
    history = night_in_sydney()
    history.say("action INC-7 add a payment error budget", "Priya Raman", utc("2026-04-06T22:46"))
    first, _still_open = [event for event in history.timeline if event.kind == FOLLOW_UP_ADDED]

    def done(follow_up: TimelineEvent, at: str, rev: int) -> TimelineEvent:  # as the Boards service hook records it
        moment = utc(at)
        return TimelineEvent(
            "INC-7", event_id(moment, f"followup-done-{rev}"), FOLLOW_UP_DONE, moment, moment, "Priya Raman",
            "workitems", "follow-up done", {"follow_up": follow_up.event_id, "rev": rev},
        )  # fmt: skip

    # The first follow-up's task closed, reopened and closed again; the second's still open.
    history.timeline += [done(first, "2026-04-08T10:00", 3), done(first, "2026-04-09T10:00", 5)]
    summary = summarise(history.incident, history.timeline, CHECKOUT, PEOPLE)
    assert (summary.follow_ups, summary.follow_ups_done) == (2, 1)
    assert digest.summary_of(json.loads(json.dumps(digest.entry(summary)))) == summary


def test_a_digest_entry_written_before_follow_ups_done_existed_reads_as_none_done():
    summary = summarise(night_in_sydney().incident, night_in_sydney().timeline, CHECKOUT, PEOPLE)
    older = digest.entry(summary)[: -len(digest.LATER_FIELDS)]  # as the first release wrote it
    assert digest.summary_of(older) == replace(summary, follow_ups_done=0)


def test_a_step_that_pages_another_roster_counts_against_that_roster():
    history = night_in_sydney()
    history.paged("Tim Jones", utc("2026-04-06T21:45"), step=2, roster="platform")  # the policy's third step
    summary = summarise(history.incident, history.timeline, CHECKOUT, PEOPLE)
    assert [(tally.person, tally.roster) for tally in summary.pages] == [
        ("Larry Brown", "payments"),  # recorded before events named their roster: the service's
        ("Priya Raman", "payments"),
        ("Tim Jones", "platform"),
    ]
