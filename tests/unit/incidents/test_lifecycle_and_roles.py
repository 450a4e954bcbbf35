"""The incident lifecycle moves forward (skipping allowed), reopens only from resolved, and records milestones;
roles have one holder (experts many) and command changes hands only by hand-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.core.errors import ConfigurationError
from shared.incidents.incident import Incident
from shared.incidents.lifecycle import RefusedTransition, advance, correct_milestone, reopen
from shared.incidents.roles import COMMANDER, SME, RoleRefused, assign, hand_off, holders, release
from shared.oncall.people import Directory, Person, parse_directory

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=10)


def _incident(**changes) -> Incident:
    base = Incident(
        id="INC-7",
        number=7,
        title="Checkout errors",
        service="checkout",
        components=("Checkout",),
        severity=2,
        status="triggered",
        source="monitoring",
        source_detail="Azure Monitor",
        detected_at=T0,
        declared_at=T0,
        updated_at=T0,
    )
    return base.changed(T0, **changes) if changes else base


def test_moving_to_identified_from_triggered_also_acknowledges():
    moved = advance(_incident(), "identified", "Tim Jones", LATER)
    assert (moved.status, moved.acknowledged_at, moved.acknowledged_by, moved.version) == (
        "identified",
        LATER,
        ("Tim Jones",),
        2,
    )
    assert moved.mitigated_at is None and moved.resolved_at is None


def test_resolving_records_mitigated_and_resolved_once():
    resolved = advance(advance(_incident(), "monitoring", "Tim", T0), "resolved", "Tim", LATER)
    assert (resolved.mitigated_at, resolved.resolved_at, resolved.acknowledged_at) == (T0, LATER, T0)


@pytest.mark.parametrize(
    ("status", "target", "detail"),
    [
        ("identified", "investigating", "INC-7 is identified; it cannot go back to investigating"),
        ("resolved", "monitoring", "INC-7 is resolved; it cannot go back to monitoring (reopen it first)"),
        ("acknowledged", "acknowledged", "INC-7 is already acknowledged"),
    ],
)
def test_moving_backwards_or_nowhere_is_refused_with_the_reason(status, target, detail):
    with pytest.raises(RefusedTransition) as refused:
        advance(_incident(status=status), target, "Tim", LATER)
    assert refused.value.detail == detail


def test_only_a_resolved_incident_reopens_and_it_forgets_its_resolution():
    resolved = advance(_incident(), "resolved", "Tim", T0)
    reopened = reopen(resolved, LATER)
    assert (reopened.status, reopened.resolved_at, reopened.acknowledged_at) == ("investigating", None, T0)
    with pytest.raises(RefusedTransition, match="not resolved: there is nothing to reopen"):
        reopen(_incident(), LATER)
    with pytest.raises(RefusedTransition, match="only a resolved incident can be reopened"):
        reopen(_incident(status="closed"), LATER)


def test_a_milestone_correction_returns_what_it_replaced_and_refuses_the_future():
    corrected, previous = correct_milestone(_incident(), "detected", T0 - timedelta(minutes=30), LATER)
    assert (corrected.detected_at, previous) == (T0 - timedelta(minutes=30), T0)
    with pytest.raises(RefusedTransition, match="cannot be in the future"):
        correct_milestone(_incident(), "started", LATER + timedelta(hours=1), LATER)


def test_roles_have_one_holder_but_experts_add_up():
    incident, replaced = assign(_incident(), "scribe", "Ann", T0)
    incident, replaced = assign(incident, "scribe", "Bob", T0)
    assert (holders(incident, "scribe"), replaced) == (("Bob",), ("Ann",))
    incident, _ = assign(incident, SME, "Cy", T0)
    incident, replaced = assign(incident, SME, "Di", T0)
    assert (holders(incident, SME), replaced) == (("Cy", "Di"), ())


def test_command_changes_hands_only_by_an_explicit_hand_off():
    incident, _ = assign(_incident(), COMMANDER, "Ann", T0)
    with pytest.raises(RoleRefused) as refused:
        assign(incident, COMMANDER, "Bob", T0)
    assert refused.value.detail == (
        "Ann is incident commander of INC-7; command changes hands explicitly: handoff INC-7 Bob"
    )
    handed, previous = hand_off(incident, "Bob", LATER)
    assert (holders(handed, COMMANDER), previous) == (("Bob",), "Ann")


def test_releasing_a_role_frees_it_and_releasing_nobody_is_refused():
    incident, _ = assign(_incident(), SME, "Cy", T0)
    incident, _ = assign(incident, SME, "Di", T0)
    freed, released = release(incident, SME, "cy", T0)
    assert (holders(freed, SME), released) == (("Di",), ("Cy",))
    with pytest.raises(RoleRefused, match="nobody is scribe of INC-7"):
        release(incident, "scribe", None, T0)


def test_people_are_recognised_by_teams_identity_then_name_and_unknown_people_still_work():
    directory = Directory((Person("Tim Jones", "tim@example.com", "America/Denver", "29:tim", "aad-tim"),))
    assert directory.identify("Timothy", aad_object_id="aad-tim").time_zone == "America/Denver"
    assert directory.identify("T. Jones", teams_id="29:tim").name == "Tim Jones"
    assert directory.named("TIM@example.com").name == "Tim Jones"
    assert directory.identify("Visitor") == Person("Visitor")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"person": [{"name": "A", "time_zone": "Mars/Olympus"}]},
            "person[0].time_zone: 'Mars/Olympus' is not an IANA",
        ),
        ({"person": [{"name": "A", "pager": "1"}]}, "person[0].pager: unknown key"),
        ({"person": [{"name": "A", "phone": "1"}]}, "person[0].phone: '1' is not an E.164 phone number"),
        ({"person": [{"email": "a@x"}]}, "person[0].name: missing"),
        ({"person": [{"name": "A"}, {"name": "a"}]}, "two people are named 'a'"),
    ],
)
def test_bad_people_files_name_the_entry_and_the_problem(document, message):
    with pytest.raises(ConfigurationError) as raised:
        parse_directory(document, "people.toml")
    assert message in raised.value.detail
