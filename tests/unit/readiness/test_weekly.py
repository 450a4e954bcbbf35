"""The weekly digest's figures and card: last week is Monday to Monday in UTC, due from Monday 09:00, and each figure
carries its change from the week before, worked out by hand from the history below."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.notifications.cards import card_of
from shared.readiness.weekly import Week, digest_card, due, last_week, week_figures
from tests.unit.readiness.test_report import resolved

# Monday 30 November – Sunday 6 December 2026 is week 49; the week before is 48.
W49 = Week(datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC))
W48 = Week(datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))


def test_last_week_is_the_last_whole_utc_week_and_due_from_monday_nine():
    for now in ("2026-12-07T00:00", "2026-12-07T08:59", "2026-12-09T17:00", "2026-12-13T23:59"):
        assert last_week(datetime.fromisoformat(now).replace(tzinfo=UTC)) == W49, now
    assert (W49.label, W49.before, W48.label) == ("2026-W49", W48, "2026-W48")
    assert not due(W49, datetime(2026, 12, 7, 8, 59, tzinfo=UTC))
    assert due(W49, datetime(2026, 12, 7, 9, 0, tzinfo=UTC))


def summaries() -> list:
    return [
        # Week 48: two incidents, acknowledged after 4 and 8 minutes; one page in Tim's sleep (03:01 Denver).
        resolved(1, "2026-11-24T10:00", 4, 10, 20, paged=[("Tim Jones", 1)]),
        resolved(2, "2026-11-29T23:59", 8, 20, 30),
        # Week 49: three, acknowledged after 2, 3 and 10 minutes; one customer-first; Larry paged in working hours.
        resolved(3, "2026-11-30T10:00", 2, 6, 12, paged=[("Larry Brown", 0)]),
        resolved(4, "2026-12-02T10:00", 3, 5, 9, source="customer"),
        resolved(5, "2026-12-06T23:59", 10, 30, 40, service="build-agents"),
        resolved(6, "2026-12-07T00:00", 1, 1, 1),  # week 50: in neither
    ]


def test_a_week_counts_the_incidents_declared_in_it():
    this, before = week_figures(W49, summaries()), week_figures(W48, summaries())
    assert (this.incidents, this.acknowledge_median, this.mitigate_median, this.resolve_median) == (3, 180, 360, 720)
    assert (this.pages, this.sleep_pages, this.customer_first, this.follow_ups) == (1, 0, 1, 0)
    assert this.cost == 250 * 6 + 250 * 5 + 5 * 30  # checkout 250 a minute, build-agents 5
    assert (before.incidents, before.acknowledge_median, before.resolve_median) == (2, 360, 1500)
    assert (before.pages, before.sleep_pages, before.cost) == (1, 1, 250 * 30)


def test_the_card_gives_each_figure_with_its_change_from_the_week_before():
    this, before = week_figures(W49, summaries()), week_figures(W48, summaries())
    card = card_of(digest_card(this, before, "https://firebell.example.com/api/readiness/report"))
    assert card["body"][0]["text"] == "Readiness, week 2026-W49 (30 Nov – 06 Dec 2026)"
    assert [(fact["title"], fact["value"]) for fact in card["body"][2]["facts"]] == [
        ("Incidents", "3 (+1 from 2)"),
        ("Median time to acknowledge", "3 min (−3 min from 6 min)"),
        ("Median time to mitigate", "6 min (−9 min from 15 min)"),
        ("Median time to resolve", "12 min (−13 min from 25 min)"),
        ("Pages", "1 (no change from 1)"),
        ("Pages in sleep hours", "0 (−1 from 1)"),
        ("Reported by a customer first", "1 (+1 from 0)"),
        ("Outage cost", "2,900.00 (−4,600.00 from 7,500.00)"),
        ("Follow-ups created", "0 (no change from 0)"),
    ]
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Readiness report",
            "url": "https://firebell.example.com/api/readiness/report",
        }
    ]


def test_a_quiet_week_says_none_rather_than_zero_minutes():
    quiet = week_figures(Week(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC)), summaries())
    card = card_of(digest_card(quiet, week_figures(W49, summaries())))
    facts = {fact["title"]: fact["value"] for fact in card["body"][2]["facts"]}
    assert facts["Median time to acknowledge"] == "— (was 3 min)" and facts["Incidents"] == "0 (−3 from 3)"
    assert card["actions"] == []
