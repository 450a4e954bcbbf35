"""Drills: an alert is a drill only when its action group says `firebell_drill = "true"`, and then its key and groups
are its own; a drill is one from its opening and for good; it is never published, never tracked on Boards unless
configured, labelled DRILL on every card and reply; its report's figures come from its timeline."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from devhost.drill import drill_alert, drill_resolution, load_sample
from shared.azure_monitor.alert import parse_alert
from shared.catalog.services import Catalog, Service
from shared.core.errors import ConfigurationError, InvalidInput
from shared.incidents.declaration import declare, parse_declaration
from shared.incidents.detection import group_key, open_from_alert
from shared.incidents.drill_report import Silence, drill_report, report_document
from shared.incidents.incident import Incident
from shared.incidents.timeline import (
    ACKNOWLEDGED,
    ALERT_FIRED,
    ESCALATION_PAGED,
    NOTE,
    PUBLIC_UPDATE,
    ROLE_ASSIGNED,
    ROLE_HANDED_OFF,
    STATUS_CHANGED,
    TimelineEvent,
)
from shared.notifications import cards
from shared.statuspage.public_view import is_published, status_page
from shared.statuspage.site import render_site
from shared.teams.reply import card_reply, drill_reply, text_reply
from shared.workitems.config import BoardsConfig, parse_boards_config
from shared.workitems.plan import item_title, plan
from shared.workitems.reconcile import candidate
from tests.conftest import SAMPLES, sample_json

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
SAMPLE = "59_test_action_metric_static_threshold.json"
CHECKOUT = Service("checkout", "Checkout", resource_groups=("test-RG",), group_by="service")
CATALOG = Catalog(services=(CHECKOUT,), default=Service("default", "Other services"))


def alert_body(**custom: str) -> bytes:
    document = sample_json(SAMPLE)
    document["data"]["customProperties"] = {**document["data"]["customProperties"], **custom}
    return json.dumps(document).encode()


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def drill(**changes: object) -> Incident:
    base = Incident(
        id="INC-9",
        number=9,
        title="Checkout p95 latency over 2 s",
        service="checkout",
        components=("Checkout",),
        severity=1,
        status="triggered",
        source="monitoring",
        source_detail="drill",
        detected_at=T0,
        declared_at=T0,
        updated_at=T0,
        drill=True,
    )
    return dataclasses.replace(base, **changes)


# --- marking an alert as a drill --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["true", "True", " TRUE "])
def test_the_action_groups_firebell_drill_property_marks_an_alert_as_a_drill_with_a_key_of_its_own(value):
    real = parse_alert(alert_body())
    marked = parse_alert(alert_body(firebell_drill=value))
    assert (real.drill, real.key) == (False, "12345678-1234-1234-1234-1234567890ab")
    assert (marked.drill, marked.key) == (True, "drill-12345678-1234-1234-1234-1234567890ab")
    assert marked.custom_properties["customKey1"] == "value1"  # the sample's own properties stay


@pytest.mark.parametrize("value", ["false", "", "yes", "1"])
def test_anything_but_true_is_a_real_alert_for_a_real_page_must_never_be_lost(value):
    assert parse_alert(alert_body(firebell_drill=value)).drill is False


def test_a_drill_alert_groups_apart_so_it_never_joins_a_real_incident_nor_a_real_alert_a_drill():
    real, marked = parse_alert(alert_body()), parse_alert(alert_body(firebell_drill="true"))
    assert group_key(CHECKOUT, real) == "service-checkout"
    assert group_key(CHECKOUT, marked) == "drill-service-checkout"
    by_rule = dataclasses.replace(CHECKOUT, group_by="rule")
    assert group_key(by_rule, marked) == "drill-" + group_key(by_rule, real)
    assert group_key(dataclasses.replace(CHECKOUT, group_by="alert"), marked) is None


def test_a_drill_alert_opens_a_drill_whose_opening_event_says_so():
    incident, event = open_from_alert(parse_alert(alert_body(firebell_drill="true")), CHECKOUT, 2, 4, None, T0)
    assert incident.drill is True
    assert event.data["drill"] is True and event.text.startswith("DRILL · Alert fired: test-metricAlertRule")
    plain_incident, plain_event = open_from_alert(parse_alert(alert_body()), CHECKOUT, 2, 4, None, T0)
    assert plain_incident.drill is False and "drill" not in plain_event.data


def test_the_drill_tool_fires_the_real_sample_as_a_new_drill_alert_and_resolves_it():
    document = drill_alert(load_sample("59"), T0, "7f0c", severity="Sev1")
    assert load_sample("59") == json.loads((SAMPLES / "azure-monitor" / SAMPLE).read_text())  # the verbatim sample
    fired = parse_alert(json.dumps(document).encode())
    assert (fired.drill, fired.key, fired.condition, fired.fired_at, fired.severity) == (
        True,
        "drill-7f0c",
        "Fired",
        T0,
        "Sev1",
    )
    assert (
        fired.alert_id
        == "/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.AlertsManagement/alerts/7f0c"
    )
    assert fired.rule == "test-metricAlertRule" and fired.summary  # the sample's own rule and metric context
    resolved = parse_alert(json.dumps(drill_resolution(document, minutes(5))).encode())
    assert (resolved.key, resolved.condition, resolved.resolved_at) == ("drill-7f0c", "Resolved", minutes(5))
    with pytest.raises(ValueError, match="no sample '99'"):
        load_sample("99")


# --- the drill flag ---------------------------------------------------------------------------------------------------


def test_a_drill_is_one_from_its_opening_and_for_good():
    with pytest.raises(ValueError, match="drill from its opening"):
        drill().changed(T0, drill=False)
    assert drill().changed(minutes(1), status="acknowledged").drill is True


def test_a_declaration_says_drill_true_or_false_and_nothing_else():
    body = {"title": "Chaos Day: checkout", "severity": 2, "reporter": "Ana", "service": "checkout", "drill": True}
    declaration = parse_declaration(body, CATALOG, T0)
    incident, event = declare(declaration, 3, None, T0)
    assert incident.drill is True and event.data["drill"] is True
    assert event.text == "DRILL · Declared by Ana (customer report), SEV2: Chaos Day: checkout"
    assert parse_declaration({**body, "drill": False}, CATALOG, T0).drill is False
    assert parse_declaration({k: v for k, v in body.items() if k != "drill"}, CATALOG, T0).drill is False
    with pytest.raises(InvalidInput, match="drill must be true or false, got 'yes'"):
        parse_declaration({**body, "drill": "yes"}, CATALOG, T0)


# --- never public, not on Boards unless configured --------------------------------------------------------------------


def test_a_drill_is_never_published_even_as_a_sev1_with_a_public_update_and_a_component_status():
    loud = drill(
        latest_update="We are investigating", latest_update_at=minutes(2), component_overrides=(("Checkout", "major"),)
    )
    assert not is_published(loud, CATALOG)
    assert is_published(dataclasses.replace(loud, drill=False), CATALOG)  # the same incident, real, would be

    def site(incidents: list[Incident]) -> dict[str, bytes]:
        return {f.path: f.body for f in render_site(status_page("Acme Status", CATALOG, incidents, now=minutes(5)))}

    assert site([loud]) == site([])  # byte for byte the page without it
    assert site([dataclasses.replace(loud, drill=False)]) != site([])


def test_boards_leaves_drills_alone_unless_boards_toml_says_drills_true():
    opening = TimelineEvent("INC-9", "e1", ALERT_FIRED, T0, T0, "Azure Monitor", "azure-monitor", "fired")
    assert plan(drill(), [opening], ["e1"], BoardsConfig()).empty
    assert not candidate(drill(), BoardsConfig())
    configured = parse_boards_config({"drills": True}, "boards.toml")
    assert configured.drills is True and not plan(drill(), [opening], ["e1"], configured).empty
    assert candidate(drill(), configured)
    assert item_title(drill()) == "DRILL · INC-9 [SEV1] Checkout p95 latency over 2 s"
    with pytest.raises(ConfigurationError, match="drills: must be true or false"):
        parse_boards_config({"drills": "no"}, "boards.toml")


# --- labelled DRILL ---------------------------------------------------------------------------------------------------


def test_every_card_of_a_drill_says_drill_and_links_no_status_page():
    links = cards.incident_links(drill(), "https://runbooks.example.com/checkout", "https://status.example.com/")
    assert links.status_page is None
    message = cards.paged_card(drill(), cards.Recipient("Tim Jones"), "payments primary", links)
    card = cards.card_of(message)
    assert card["body"][0]["items"][0]["text"] == "DRILL · INC-9 · SEV1 · Checkout p95 latency over 2 s"
    assert card["fallbackText"].startswith("DRILL · INC-9 SEV1")
    facts = {fact["title"]: fact["value"] for fact in card["body"][2]["facts"]}
    assert facts["Drill"] == "an exercise: not on the status page, not in the metrics"
    assert [action["title"] for action in card["actions"]] == ["Runbook"]
    real = cards.card_of(cards.paged_card(drill(drill=False), cards.Recipient("Tim Jones"), "p", links))
    assert not real["body"][0]["items"][0]["text"].startswith("DRILL")


def test_a_reply_about_a_drill_says_drill_first_text_or_card():
    assert drill_reply(text_reply("**INC-9**: acknowledged"), True) == text_reply("**DRILL** · **INC-9**: acknowledged")
    assert drill_reply(text_reply("same"), False) == text_reply("same")
    card = drill_reply(card_reply("INC-9 [SEV1] Checkout", ["line"], [], []), True)
    body = card["attachments"][0]["content"]["body"]
    assert [block["text"] for block in body] == ["DRILL · INC-9 [SEV1] Checkout", "line"]


# --- the drill report -------------------------------------------------------------------------------------------------


def event(kind: str, at: float, source: str = "teams", **data: object) -> TimelineEvent:
    moment = minutes(at)
    return TimelineEvent("INC-9", f"{at:08.2f}-{kind}", kind, moment, moment, "Tim Jones", source, kind, data=data)


def test_the_drill_report_measures_acknowledgement_first_update_draft_roles_and_silences():
    timeline = [
        event(ALERT_FIRED, 0, "azure-monitor"),
        event(ESCALATION_PAGED, 0.1, "notifications"),
        event(ROLE_ASSIGNED, 2, role="commander", person="Tim Jones"),
        event(ACKNOWLEDGED, 3),
        event(ROLE_ASSIGNED, 5, role="comms", person="Priya Raman"),
        event(PUBLIC_UPDATE, 7),
        event(ROLE_HANDED_OFF, 9, role="commander", to="Larry Brown"),  # command changed hands: filled at 2 min
        event(ESCALATION_PAGED, 15, "notifications"),  # Firebell paging is not the team talking
        event(PUBLIC_UPDATE, 26),
        event(NOTE, 31),
        event(STATUS_CHANGED, 50, to="resolved"),
    ]
    incident = drill(acknowledged_at=minutes(3), resolved_at=minutes(50), status="resolved")
    report = drill_report(incident, list(reversed(timeline)), now=minutes(90))
    assert (report.time_to_acknowledge, report.time_to_first_update, report.until) == (180.0, 420.0, minutes(50))
    assert [(r.role, r.person, r.seconds) for r in report.roles] == [
        ("commander", "Tim Jones", 120.0),
        ("comms", "Priya Raman", 300.0),
    ]
    assert report.roles_missing == ("scribe",)
    assert report.silences == (Silence(minutes(9), minutes(26)), Silence(minutes(31), minutes(50)))
    assert [s.seconds for s in report.silences] == [1020.0, 1140.0]
    document = report_document(report)
    assert document["time_to_first_update_draft_seconds"] == 420.0
    assert document["silences"][0] == {
        "from": "2026-12-05T09:09:00.000Z",
        "until": "2026-12-05T09:26:00.000Z",
        "seconds": 1020.0,
    }


def test_a_running_drill_nobody_answered_is_one_long_silence_until_now():
    report = drill_report(drill(), [event(ALERT_FIRED, 0, "azure-monitor")], now=minutes(12))
    assert (report.time_to_acknowledge, report.time_to_first_update, report.roles) == (None, None, ())
    assert report.roles_missing == ("commander", "comms", "scribe")
    assert report.silences == (Silence(T0, minutes(12)),)
    assert drill_report(drill(), [], now=minutes(9)).silences == ()  # shorter than SILENCE: not a silence


def test_a_real_incident_has_no_drill_report():
    with pytest.raises(InvalidInput, match="INC-9 is not a drill"):
        drill_report(drill(drill=False), [], now=T0)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (["--severity", "Sev9"], "severity must be Sev0 to Sev4, got 'Sev9'"),
        (["--resolve", "a/b"], "resolve takes the id the drill printed (letters, digits, . _ -)"),
        (["--sample", "99"], "no sample '99'"),
    ],
)
def test_the_operator_drill_refuses_a_bad_argument_and_fires_nothing(options, problem, capsys, monkeypatch):
    from devhost.ops.cli import main as ops

    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")  # so no local.settings.json is read
    # Port 9 (discard): nothing listens there, so exit code 2 means the refusal came before any request...
    assert ops(["drill", "--url", "http://127.0.0.1:9", *options]) == 2
    assert problem in capsys.readouterr().err
    # ... and a good request that cannot be delivered is a failure at work (1), said in one line.
    assert ops(["drill", "--url", "http://127.0.0.1:9"]) == 1
    assert "drill not fired:" in capsys.readouterr().err
