"""The weekly readiness digest: last week's figures (Monday 00:00 UTC to Monday 00:00 UTC), the change from the week
before, as an Adaptive Card for the Teams channel and as gauges for Application Insights. Pure: the figures of both
weeks come from shared.readiness.figures, aggregated from the summaries declared in each week."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.core.links import is_web_url
from shared.notifications.cards import CARD_CONTENT_TYPE, CARD_VERSION
from shared.readiness.figures import aggregate
from shared.readiness.hours import SLEEP_HOURS
from shared.readiness.summary import ACKNOWLEDGE, MITIGATE, RESOLVE, IncidentSummary

WEEK = timedelta(days=7)
DUE_AFTER = timedelta(hours=9)  # a week's digest is due on the Monday after it, from 09:00 UTC


@dataclass(frozen=True)
class Week:
    start: datetime  # Monday 00:00 UTC, inclusive
    end: datetime  # the next Monday, exclusive

    @property
    def label(self) -> str:
        """ISO week, e.g. 2026-W49: the ledger's name for the digest and the metrics' `week` attribute."""
        year, number, _ = self.start.isocalendar()
        return f"{year:04d}-W{number:02d}"

    @property
    def before(self) -> Week:
        return Week(self.start - WEEK, self.start)


@dataclass(frozen=True)
class WeekFigures:
    week: Week
    incidents: int
    acknowledge_median: float | None  # seconds
    mitigate_median: float | None
    resolve_median: float | None
    pages: int
    sleep_pages: int  # pages that reached someone in their sleep hours
    cost: float
    customer_first: int
    follow_ups: int


def last_week(now: datetime) -> Week:
    """The last whole week before `now` (UTC, Monday to Monday)."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    return Week(monday - WEEK, monday)


def due(week: Week, now: datetime) -> bool:
    return now >= week.end + DUE_AFTER


def week_figures(week: Week, summaries: Iterable[IncidentSummary]) -> WeekFigures:
    chosen = [summary for summary in summaries if week.start <= summary.declared_at < week.end]
    figures = aggregate(chosen)
    return WeekFigures(
        week=week,
        incidents=figures.incidents,
        acknowledge_median=figures.response[ACKNOWLEDGE].median,
        mitigate_median=figures.response[MITIGATE].median,
        resolve_median=figures.response[RESOLVE].median,
        pages=sum(load.pages for load in figures.load_by_person.values()),
        sleep_pages=sum(load.by_period[SLEEP_HOURS] for load in figures.load_by_person.values()),
        cost=round(figures.cost, 2),
        customer_first=figures.customer_first,
        follow_ups=figures.follow_ups,
    )


# --- the card -----------------------------------------------------------------------------------------------------


def digest_card(this: WeekFigures, last: WeekFigures, report_url: str | None = None) -> dict[str, Any]:
    """The Workflows message: a FactSet of the week's figures, each with its change from the week before."""
    facts = [
        ("Incidents", _count(this.incidents, last.incidents)),
        ("Median time to acknowledge", _minutes(this.acknowledge_median, last.acknowledge_median)),
        ("Median time to mitigate", _minutes(this.mitigate_median, last.mitigate_median)),
        ("Median time to resolve", _minutes(this.resolve_median, last.resolve_median)),
        ("Pages", _count(this.pages, last.pages)),
        ("Pages in sleep hours", _count(this.sleep_pages, last.sleep_pages)),
        ("Reported by a customer first", _count(this.customer_first, last.customer_first)),
        ("Outage cost", _money(this.cost, last.cost)),
        ("Follow-ups created", _count(this.follow_ups, last.follow_ups)),
    ]
    first, final = this.week.start, this.week.end - timedelta(days=1)
    heading = f"Readiness, week {this.week.label} ({first:%d %b} – {final:%d %b %Y})"
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "fallbackText": f"{heading}: {this.incidents} incidents, {this.pages} pages",
        "body": [
            {"type": "TextBlock", "text": heading, "weight": "Bolder", "size": "Medium", "wrap": True},
            {
                "type": "TextBlock",
                "text": f"Change from week {last.week.label} in brackets; incidents declared in the week, resolved.",
                "isSubtle": True,
                "wrap": True,
                "spacing": "None",
            },
            {"type": "FactSet", "facts": [{"title": title, "value": value} for title, value in facts]},
        ],
        "actions": (
            [{"type": "Action.OpenUrl", "title": "Readiness report", "url": report_url}]
            if report_url and is_web_url(report_url)
            else []
        ),
    }
    return {"type": "message", "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}]}


def _count(now: int, before: int) -> str:
    return f"{now} ({_signed(now - before, lambda value: f'{value:g}')} from {before})"


def _minutes(now: float | None, before: float | None) -> str:
    if now is None:
        return "—" if before is None else f"— (was {_min(before)})"
    if before is None:
        return f"{_min(now)} (none the week before)"
    return f"{_min(now)} ({_signed(round((now - before) / 60, 1), _min_value)} from {_min(before)})"


def _money(now: float, before: float) -> str:
    return f"{now:,.2f} ({_signed(round(now - before, 2), lambda value: f'{value:,.2f}')} from {before:,.2f})"


def _signed(change: float, show: Callable[[float], str]) -> str:
    if change == 0:
        return "no change"
    return f"+{show(change)}" if change > 0 else f"−{show(-change)}"


def _min(seconds: float) -> str:
    return _min_value(round(seconds / 60, 1))


def _min_value(minutes: float) -> str:
    return f"{minutes:g} min"
