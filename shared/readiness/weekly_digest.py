"""The weekly digest timer: once the week's digest is due (Monday 09:00 UTC), post it to Teams exactly once across
instances and redeliveries, and set last week's figures as gauges for Application Insights.

Once: the `escalations` ledger (shared.notifications.ledger) holds a lease on the digest, so of two instances firing
together one goes on, and a `sent-weekly-<week>` row once the post succeeded, which every later tick checks first.
The timer ticks hourly, so a week whose post failed (Workflows down, storage down) is sent by a later tick — late,
never twice, never lost while its week is the last one. The one window left is the post succeeding and the process
dying before the row is written: then, as for incident cards, the next tick after the lease sends it again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from shared.core import telemetry
from shared.notifications.cards import encode
from shared.notifications.ledger import EscalationLedger
from shared.readiness.store import ReadinessStore
from shared.readiness.weekly import Week, WeekFigures, digest_card, due, last_week, week_figures
from shared.readiness.window import Window
from shared.teams.workflow import WorkflowSender

log = logging.getLogger("firebell.readiness")

LEDGER = "readiness"  # the ledger partition of the weekly digests
LEASE = "readiness-weekly-digest"
LEASE_FOR = timedelta(minutes=5)  # longer than a post with its retries (shared.teams.workflow)
SENT, ALREADY_SENT, HELD, NOT_DUE, NOT_CONFIGURED = "sent", "already sent", "held", "not due", "not configured"


def digest_key(week: Week) -> str:
    return f"weekly-{week.label}"


def send_weekly_digest(
    now: datetime,
    store: ReadinessStore,
    ledger: EscalationLedger,
    workflow: WorkflowSender,
    url: str | None,
    instance: str,
    report_url: str | None = None,
) -> str:
    """One tick; what it did. A failed post raises (WorkflowError): nothing is recorded, the next tick tries again."""
    week = last_week(now)
    if not due(week, now):
        return NOT_DUE
    key = digest_key(week)
    if ledger.sent(LEDGER, key):
        return ALREADY_SENT
    if not ledger.take_lease(LEASE, instance, now, LEASE_FOR):
        return HELD
    if ledger.sent(LEDGER, key):  # sent by the instance that held the lease before us
        return ALREADY_SENT
    summaries = list(store.summaries(Window(week.before.start, week.end)))
    this, before = week_figures(week, summaries), week_figures(week.before, summaries)
    export(this)
    if not url:
        log.warning("readiness: weekly digest %s not sent: set TEAMS_WORKFLOW_URL to post it", week.label)
        return NOT_CONFIGURED
    workflow.post(url, encode(digest_card(this, before, report_url)))
    ledger.record_sent(LEDGER, key, now, {"week": week.label, "incidents": this.incidents})
    telemetry.count(telemetry.CARDS_SENT, card="weekly")
    log.info("readiness: weekly digest %s sent", week.label)
    return SENT


def export(figures: WeekFigures) -> None:
    """Last week's figures as gauges (kept only when telemetry is on; nothing of OpenTelemetry loads otherwise)."""
    week = figures.week.label
    telemetry.gauge(telemetry.READINESS_INCIDENTS, figures.incidents, week=week)
    for duration, seconds in (
        ("acknowledge", figures.acknowledge_median),
        ("mitigate", figures.mitigate_median),
        ("resolve", figures.resolve_median),
    ):
        if seconds is not None:
            telemetry.gauge(telemetry.READINESS_RESPONSE, seconds, week=week, duration=duration)
    telemetry.gauge(telemetry.READINESS_PAGES, figures.pages, week=week, period="all")
    telemetry.gauge(telemetry.READINESS_PAGES, figures.sleep_pages, week=week, period="sleep_hours")
    telemetry.gauge(telemetry.READINESS_COST, figures.cost, week=week)
    telemetry.gauge(telemetry.READINESS_CUSTOMER_FIRST, figures.customer_first, week=week)
    telemetry.gauge(telemetry.READINESS_FOLLOW_UPS, figures.follow_ups, week=week)
