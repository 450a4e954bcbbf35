"""ChatOps commands that reach beyond one incident's record: component statuses, paging, on-call, maintenance."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from shared.chatops.grammar import (
    CancelMaintenance,
    Invalid,
    ListMaintenances,
    OnCall,
    Page,
    ScheduleMaintenance,
    SetComponentStatus,
    SetOverride,
    parse_command,
)
from shared.chatops.rules import Context, Said, decide
from shared.incidents.incident import Incident

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
INCIDENT = Incident(
    id="INC-7",
    number=7,
    title="cpu-high",
    service="checkout",
    components=("Checkout", "Other services"),
    severity=2,
    status="investigating",
    source="monitoring",
    source_detail="rule",
    detected_at=NOW,
    declared_at=NOW,
    updated_at=NOW,
)


def _said(text: str) -> Said:
    return Said(text, "Larry Brown", NOW, "m-1")


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("component INC-7 partial Checkout", SetComponentStatus("INC-7", "Checkout", "partial_outage")),
        ("component inc-7 auto Other services", SetComponentStatus("INC-7", "Other services", None)),
        ("page payments INC-7", Page("INC-7", "payments")),
        ("page @Alex Kim inc-3", Page("INC-3", "Alex Kim")),
        ("oncall", OnCall(None)),
        ("oncall Payments", OnCall("payments")),
        (
            "override payments Alex Kim 2026-12-03T09:00Z +8h",
            SetOverride("payments", "Alex Kim", "2026-12-03T09:00Z", "+8h"),
        ),
        ("override payments Priya now +2d", SetOverride("payments", "Priya", "now", "+2d")),
        (
            "maintenance checkout,search 2026-12-03T01:00Z +90m Database upgrade",
            ScheduleMaintenance(("checkout", "search"), "2026-12-03T01:00Z", "+90m", "Database upgrade"),
        ),
        ("maintenance list", ListMaintenances()),
        ("maintenance cancel mnt-003", CancelMaintenance("MNT-3")),
    ],
)
def test_coordination_commands_parse_into_exact_values(text, command):
    assert parse_command(text) == command


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("component INC-7 broken Checkout", "component needs an incident id, a status and a component"),
        ("page INC-7", "page needs who to page"),
        ("override payments Alex 2026-12-03T09:00Z +8h" + "h" * 40, "a time is 43 characters"),
        ("override payments 2026-12-03T09:00Z +8h", "override needs a roster, a person"),
        ("maintenance checkout +2h", "maintenance needs the services"),
        ("maintenance cancel INC-3", "maintenance needs the services"),
    ],
)
def test_malformed_coordination_commands_say_what_they_need(text, problem):
    command = parse_command(text)
    assert isinstance(command, Invalid) and command.problem.startswith(problem)


def test_the_coordinator_sets_and_clears_a_components_public_status():
    decision = decide(parse_command("component INC-7 major checkout"), INCIDENT, _said("…"), Context())
    assert decision.changed is not None
    assert decision.changed.component_overrides == (("Checkout", "major_outage"),)
    (event,) = decision.events
    assert (event.kind, event.data["component"], event.data["status"], event.text) == (
        "component.status_set",
        "Checkout",
        "major_outage",
        "Larry Brown set Checkout to major outage on the status page",
    )
    cleared = decide(parse_command("component INC-7 auto Checkout"), decision.changed, _said("…"), Context())
    assert cleared.changed is not None and cleared.changed.component_overrides == ()


@pytest.mark.parametrize(
    ("incident", "text", "refusal"),
    [
        (INCIDENT, "component INC-7 major Search", "INC-7 affects Checkout, Other services, not Search"),
        (INCIDENT, "component INC-7 auto Checkout", "Checkout already shows the status its severity gives"),
        (replace(INCIDENT, status="resolved"), "component INC-7 major Checkout", "INC-7 is resolved"),
        (replace(INCIDENT, status="closed"), "page payments INC-7", "INC-7 is closed; reopen it before paging"),
    ],
)
def test_component_statuses_are_refused_for_components_the_incident_does_not_affect(incident, text, refusal):
    decision = decide(parse_command(text), incident, _said(text), Context())
    assert decision.changed is None
    (event,) = decision.events
    assert event.kind == "chat.message" and refusal in event.text


def test_a_page_request_goes_on_the_timeline_for_notifications_to_carry_out():
    decision = decide(parse_command("page payments INC-7"), INCIDENT, _said("page payments INC-7"), Context())
    assert decision.changed is None
    (event,) = decision.events
    assert (event.kind, event.data["target"], event.data["by"]) == ("page.requested", "payments", "Larry Brown")
