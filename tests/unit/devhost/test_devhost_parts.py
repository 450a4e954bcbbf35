"""The devhost's pure parts: route templates, host.json time spans, NCRONTAB schedules, binding discovery."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devhost.catalog import by_trigger, discover
from devhost.hostjson import load_host_options, timespan_seconds
from devhost.http import werkzeug_rule
from devhost.timers import next_occurrence
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("route", "rule"),
    [
        ("alerts", "/api/alerts"),
        ("incidents/{id}", "/api/incidents/<string:id>"),
        ("items/{n:int}", "/api/items/<int:n>"),
        ("files/{*path}", "/api/files/<path:path>"),
        ("oncall/{roster}.ics", "/api/oncall/<string:roster>.ics"),
    ],
)
def test_azure_route_templates_become_werkzeug_rules(route: str, rule: str):
    assert werkzeug_rule("api", route) == rule


@pytest.mark.parametrize(
    ("span", "seconds"), [("00:00:05", 5), ("00:01:30", 90), ("1.02:00:00", 93600), ("00:00:00.5", 0.5)]
)
def test_host_json_timespans(span: str, seconds: float):
    assert timespan_seconds(span) == seconds


def test_the_project_host_json_sets_poison_after_five_attempts_and_base64_messages():
    options = load_host_options(ROOT / "host.json")
    assert options.queues.max_dequeue_count == 5
    assert options.queues.message_encoding == "base64"
    assert options.route_prefix == "api"


def test_ncrontab_schedules_have_seconds_first():
    after = datetime(2026, 11, 23, 10, 59, 58, tzinfo=UTC)
    assert next_occurrence("0 0 * * * *", after) == datetime(2026, 11, 23, 11, 0, 0, tzinfo=UTC)
    assert next_occurrence("*/15 * * * * *", after) == datetime(2026, 11, 23, 11, 0, 0, tzinfo=UTC)
    assert next_occurrence("00:05:00", after) == datetime(2026, 11, 23, 11, 4, 58, tzinfo=UTC)
    with pytest.raises(ValueError, match="6 fields"):
        next_occurrence("0 * * * *", after)


def test_the_devhost_reads_every_function_from_the_apps_own_registry():
    from function_app import app

    specs = discover(app)
    assert {spec.name: spec.trigger_type for spec in specs} == {
        "alerts": "httpTrigger",
        "health": "httpTrigger",
        "health_details": "httpTrigger",
        "declare_incident": "httpTrigger",
        "list_incidents": "httpTrigger",
        "get_incident": "httpTrigger",
        "drill_report": "httpTrigger",
        "teams": "httpTrigger",
        "oncall": "httpTrigger",
        "oncall_calendar": "httpTrigger",
        "set_oncall_override": "httpTrigger",
        "list_oncall_overrides": "httpTrigger",
        "declare_maintenance": "httpTrigger",
        "list_maintenances": "httpTrigger",
        "get_maintenance": "httpTrigger",
        "cancel_maintenance": "httpTrigger",
        "cancel_maintenance_post": "httpTrigger",
        "statuspage": "queueTrigger",
        "statuspage_hourly": "timerTrigger",
        "notifications": "queueTrigger",
        "escalations": "queueTrigger",
        "reminders": "timerTrigger",
        "sweeper": "timerTrigger",
        "workitems": "queueTrigger",
        "channels": "queueTrigger",
        "channel_subscriptions": "timerTrigger",
        "graph_notifications": "httpTrigger",
        "metrics": "httpTrigger",
        "openapi": "httpTrigger",
        "quiet_alerts": "timerTrigger",
        "readiness": "queueTrigger",
        "readiness_report": "httpTrigger",
        "readiness_report_hourly": "timerTrigger",
        "readiness_weekly_digest": "timerTrigger",
        "postmortems": "queueTrigger",
        "get_postmortem": "httpTrigger",
        "start_postmortem": "httpTrigger",
        "close_incident": "httpTrigger",
        "boards_events": "httpTrigger",
        "followup_reminders": "timerTrigger",
        "contacts": "queueTrigger",
        "acs_events": "httpTrigger",
        "acs_calls": "httpTrigger",
        "test_page": "httpTrigger",
        "ack_link": "httpTrigger",
        "get_notify_rules": "httpTrigger",
        "set_notify_rules": "httpTrigger",
        "delete_notify_rules": "httpTrigger",
    }
    (alerts,) = [spec for spec in by_trigger(specs, "httpTrigger") if spec.name == "alerts"]
    assert alerts.trigger["route"] == "alerts" and alerts.trigger["authLevel"] == "FUNCTION"
    assert not alerts.outputs  # the change message goes through the queue SDK (functions/http_edge.py)
