"""Render the readiness report from the stored summaries and keep it in the private container: what the hourly
timer does, and GET /api/readiness/report when no render exists yet (a fresh deployment)."""

from __future__ import annotations

import logging
from datetime import datetime

from shared.oncall.compliance import compliance
from shared.oncall.schedule import Schedule
from shared.readiness.query import Overrides, readiness
from shared.readiness.report import render_report, report_view, report_window
from shared.readiness.report_store import ReportStore
from shared.readiness.store import ReadinessStore

log = logging.getLogger("firebell.readiness")


def render(store: ReadinessStore, schedule: Schedule, overrides: Overrides, now: datetime) -> str:
    found = readiness(report_window(now), store, schedule, overrides, now)
    return render_report(report_view(found, compliance(schedule, now), now))


def publish_report(
    store: ReadinessStore, reports: ReportStore, schedule: Schedule, overrides: Overrides, now: datetime
) -> bytes:
    html = render(store, schedule, overrides, now)
    reports.write(html, now)
    log.info("readiness report rendered (%d bytes)", len(html))
    return html.encode("utf-8")
