"""Escalation policies: the order of steps and rounds, when escalation stops, what the timeline says, and the
configuration file's validation (every error names file, key and problem)."""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.catalog.services import load_catalog
from shared.core.errors import ConfigurationError, InvalidInput
from shared.incidents.incident import Incident
from shared.notifications import policy as rules
from shared.notifications.policy import EscalationPolicy, EscalationStep, Position, StepMessage
from shared.notifications.policy_config import BUILT_IN, load_escalations, parse_escalations
from tests.conftest import ROOT

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
POLICY = EscalationPolicy(
    "standard",
    (
        EscalationStep(rules.ROSTER_LAYER, "primary", wait=timedelta(minutes=5)),
        EscalationStep(rules.ROSTER_LAYER, "secondary", roster="platform", wait=timedelta(minutes=10)),
        EscalationStep(rules.ROLE, "commander", wait=timedelta(minutes=15)),
    ),
    rounds=2,
)
SOURCE = "config/escalations.toml"


def incident(**changes: object) -> Incident:
    base = Incident(
        id="INC-7",
        number=7,
        title="Checkout down",
        service="checkout",
        components=("Checkout",),
        severity=1,
        status="triggered",
        source="monitoring",
        source_detail="rule",
        detected_at=NOW,
        declared_at=NOW,
        updated_at=NOW,
    )
    return dataclasses.replace(base, **changes)


def test_steps_run_in_order_then_repeat_for_each_round_then_end():
    walked, position = [], rules.FIRST
    while position is not None:
        walked.append((position.round, position.step, rules.wait_after(POLICY, position)))
        position = rules.next_position(POLICY, position)
    minutes = timedelta(minutes=1)
    assert walked == [
        (1, 0, 5 * minutes),
        (1, 1, 10 * minutes),
        (1, 2, 15 * minutes),
        (2, 0, 5 * minutes),
        (2, 1, 10 * minutes),
        (2, 2, 15 * minutes),
    ]


def test_a_position_outside_the_policy_has_no_step():
    assert rules.step_at(POLICY, Position(3, 0)) is None
    assert rules.step_at(POLICY, Position(1, 3)) is None
    assert rules.step_at(POLICY, Position(2, 2)) == POLICY.steps[2]
    assert rules.wait_after(POLICY, Position(1, 9)) == timedelta(0)


def test_why_someone_is_paged_names_the_roster_layer_step_and_round():
    assert rules.why(POLICY, Position(1, 0), "payments") == "payments primary, step 1 of 3, round 1 of 2"
    assert rules.why(POLICY, Position(2, 1), "payments") == "platform secondary, step 2 of 3, round 2 of 2"
    assert rules.why(POLICY, Position(1, 2), "payments") == "incident commander, step 3 of 3, round 1 of 2"
    single = dataclasses.replace(POLICY, rounds=1)
    assert rules.why(single, Position(1, 0), "payments") == "payments primary, step 1 of 3"
    assert rules.paged_text("Tim Jones", "payments primary, step 1 of 3") == (
        "paged Tim Jones (payments primary, step 1 of 3)"
    )
    named = EscalationStep(rules.PERSON, "Larry Brown")
    assert named.describe("payments") == "named contact"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        (
            {"status": "acknowledged", "acknowledged_at": NOW, "acknowledged_by": ("Tim Jones",)},
            "acknowledged by Tim Jones",
        ),
        ({"acknowledged_at": NOW}, "acknowledged"),  # acknowledged while alerts had moved it on
        ({"status": "investigating"}, "the incident is investigating"),
        ({"status": "resolved", "resolved_at": NOW}, "the incident is resolved"),
    ],
)
def test_escalation_stops_on_acknowledgement_or_when_the_incident_moved_on(changes, reason):
    assert rules.stop_reason(incident(**changes)) == reason


def test_visibility_delays_round_up_to_whole_seconds():
    assert rules.visibility_seconds(timedelta(0)) == 0
    assert rules.visibility_seconds(timedelta(seconds=1.2)) == 2
    assert rules.visibility_seconds(timedelta(minutes=5)) == 300


def test_a_step_message_round_trips_and_malformed_ones_are_refused():
    message = StepMessage("INC-7", "standard", Position(2, 1), NOW)
    assert message.to_json() == {
        "incident": "INC-7",
        "policy": "standard",
        "round": 2,
        "step": 1,
        "due": "2026-12-02T03:00:00.000Z",
    }
    assert StepMessage.from_json(message.to_json()) == message
    for broken in (
        [],
        {"incident": "INC-7", "policy": "standard", "round": 0, "step": 0, "due": "2026-12-02T03:00:00Z"},
        {"incident": "INC-7", "policy": "standard", "round": 1, "step": -1, "due": "2026-12-02T03:00:00Z"},
        {"incident": "INC-7", "policy": "standard", "round": 1, "step": 0, "due": "yesterday"},
        {"incident": 7, "policy": "standard", "round": 1, "step": 0, "due": "2026-12-02T03:00:00Z"},
    ):
        with pytest.raises(InvalidInput):
            StepMessage.from_json(broken)


# --- configuration --------------------------------------------------------------------------------------------------


def repo_document() -> dict:
    return tomllib.loads((ROOT / "config" / "escalations.toml").read_text(encoding="utf-8"))


def test_the_example_configuration_routes_by_service_and_severity_with_a_default():
    services = {service.id for service in load_catalog(ROOT / "config").services}
    config = load_escalations(ROOT / "config", services)
    assert [config.policy_for("checkout", severity).id for severity in (1, 2, 3, 4)] == [
        "critical",
        "critical",
        "standard",
        "business-hours",
    ]
    assert config.policy_for("build-agents", 2).id == "standard"
    critical = config.policy("critical")
    assert critical is not None and critical.rounds == 3
    assert critical.steps == (
        EscalationStep(rules.ROSTER_LAYER, "primary", wait=timedelta(minutes=2)),
        EscalationStep(rules.ROSTER_LAYER, "secondary", wait=timedelta(minutes=3)),
        EscalationStep(rules.PERSON, "Larry Brown", wait=timedelta(minutes=5)),
    )


def test_without_the_file_the_owning_rosters_primary_is_paged_once(tmp_path: Path):
    config = load_escalations(tmp_path)
    assert config == BUILT_IN
    assert config.policy_for("anything", 1).steps == (EscalationStep(rules.ROSTER_LAYER, "primary"),)


def broken(change) -> str:
    document = repo_document()
    change(document)
    with pytest.raises(ConfigurationError) as refused:
        parse_escalations(document, SOURCE, {"checkout", "build-agents"})
    return refused.value.detail


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d.update(policies={}),
            "config/escalations.toml.policies: unknown key; expected one of default, policy, route",
        ),
        (lambda d: d.pop("default"), 'config/escalations.toml: default: missing; add [default] with policy = "<id>"'),
        (
            lambda d: d["default"].update(policy="nope"),
            "config/escalations.toml: default.policy: 'nope' is not defined; "
            "policies: standard, critical, business-hours",
        ),
        (
            lambda d: d["policy"]["standard"].update(rounds=0),
            "config/escalations.toml: policy.standard.rounds: must be a whole number from 1 to 10, got 0",
        ),
        (
            lambda d: d["policy"]["standard"].update(steps=[]),
            "config/escalations.toml: policy.standard.steps: must be a list of 1 to 20 steps",
        ),
        (
            lambda d: d["policy"]["standard"]["steps"][1].update(person="Larry Brown"),
            "config/escalations.toml: policy.standard.steps[1]: must name exactly one of roster_layer, role, person",
        ),
        (
            lambda d: d["policy"]["standard"]["steps"][2].update(role="ceo"),
            "config/escalations.toml: policy.standard.steps[2].role: must be one of commander, comms, got 'ceo'",
        ),
        (
            lambda d: d["policy"]["standard"]["steps"][0].update(wait_minutes=-1),
            "config/escalations.toml: policy.standard.steps[0].wait_minutes: must be a number from 0 to 1440, got -1",
        ),
        (
            lambda d: d["policy"]["standard"]["steps"][0].update(wait="5"),
            "config/escalations.toml: policy.standard.steps[0].wait: unknown key; "
            "expected one of person, role, roster, roster_layer, wait_minutes",
        ),
        (
            lambda d: d["policy"]["standard"]["steps"][2].update(roster="payments"),
            "config/escalations.toml: policy.standard.steps[2].roster: only a roster_layer step names a roster",
        ),
        (
            lambda d: d["route"][0].update(service="chekout"),
            "config/escalations.toml: route[0].service: 'chekout' is not a service in services.toml",
        ),
        (
            lambda d: d["route"][1].update(severities=[5]),
            "config/escalations.toml: route[1].severities[0]: must be a severity from 1 (worst) to 4, got 5",
        ),
        (
            lambda d: d["route"][1].pop("severities"),
            "config/escalations.toml: route[1]: name a service, severities or both ([default] is the catch-all)",
        ),
    ],
)
def test_configuration_errors_name_file_key_and_problem(change, message):
    assert broken(change) == message


def test_a_retriggered_escalation_is_a_series_of_its_own_that_survives_the_queue():
    from datetime import UTC, datetime

    from shared.incidents.paging import retriggered_series
    from shared.notifications.policy import Position, StepMessage

    series = retriggered_series("1764669600000-status-triggered-alert-2")
    assert series == retriggered_series("1764669600000-status-triggered-alert-2") and len(series) == 13
    position = Position(2, 1, series)
    assert position.key() == f"{series}-r02-s01" and Position(2, 1).key() == "r02-s01"
    message = StepMessage("INC-7", "standard", position, datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    assert StepMessage.from_json(message.to_json()) == message
    with pytest.raises(InvalidInput, match="series"):
        StepMessage.from_json({**message.to_json(), "series": "../x"})


@pytest.mark.parametrize(
    ("step", "detail"),
    [
        ('{ person = "Larry Brwn" }', "policy.p.steps[0].person: 'Larry Brwn' is not in people.toml"),
        ('{ roster_layer = "primary", roster = "paymnts" }', "policy.p.steps[0].roster: 'paymnts' is not a roster"),
        ('{ roster_layer = "tertiary", roster = "payments" }', "policy.p.steps[0].roster_layer: payments has no layer"),
    ],
)
def test_steps_naming_nobody_firebell_knows_are_configuration_errors(step, detail):
    from shared.oncall.people import load_directory
    from shared.oncall.schedule import load_schedule

    directory = load_directory(ROOT / "config")
    config = parse_escalations(tomllib.loads(f'[policy.p]\nsteps = [{step}]\n[default]\npolicy = "p"\n'), SOURCE)
    with pytest.raises(ConfigurationError) as refused:
        config.check_targets(load_schedule(ROOT / "config", directory), directory, SOURCE)
    assert detail in refused.value.detail


def test_the_example_configuration_names_only_known_rosters_and_people():
    from shared.oncall.people import load_directory
    from shared.oncall.schedule import load_schedule

    directory = load_directory(ROOT / "config")
    config = load_escalations(ROOT / "config")
    assert config.check_targets(load_schedule(ROOT / "config", directory), directory, SOURCE) is None
