"""An incident's Azure Boards work item: its fields and JSON Patch documents, what each change asks of Boards, the
timeline record, and the boards.toml that configures it. Pure: no SDK, no storage."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.catalog.services import load_catalog
from shared.core.errors import ConfigurationError, InvalidInput
from shared.core.settings import Settings
from shared.incidents.changes import ChangeMessage
from shared.incidents.incident import Incident
from shared.incidents.timeline import (
    ALERT_FIRED,
    CHANNEL_FAILED,
    FOLLOW_UP_ADDED,
    INCIDENT_DECLARED,
    NOTE,
    SEVERITY_CHANGED,
    STATUS_CHANGED,
    WORK_ITEM_CREATED,
    WORK_ITEM_FAILED,
    TimelineEvent,
    event_id,
)
from shared.workitems import plan as work_item
from shared.workitems.config import BoardsConfig, HttpPolicy, load_boards_config, parse_boards_config
from tests.conftest import ROOT
from tests.unit.statuspage.ids import pid

T0 = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
CATALOG = load_catalog(ROOT / "config")
CHECKOUT = CATALOG.service("checkout")
CONFIG = BoardsConfig()


def incident(**changes: object) -> Incident:
    values: dict[str, object] = {
        "id": "INC-7",
        "number": 7,
        "title": "Checkout <b>latency</b> & errors",
        "service": "checkout",
        "components": ("Checkout",),
        "severity": 2,
        "status": "triggered",
        "source": "customer",
        "source_detail": "Ana (customer report)",
        "detected_at": T0,
        "declared_at": T0 + timedelta(minutes=2),
        "updated_at": T0 + timedelta(minutes=2),
        "description": "Payments fail with <script>alert(1)</script>",
        "customer_impact": "Cards declined",
    }
    values.update(changes)
    return Incident(**values)  # type: ignore[arg-type]


def event(kind: str, minutes: int, discriminator: str, **data: object) -> TimelineEvent:
    at = T0 + timedelta(minutes=minutes)
    return TimelineEvent("INC-7", event_id(at, discriminator), kind, at, at, "Tim Jones", "teams", kind, data=data)


OPENING = event(INCIDENT_DECLARED, 2, "declared")
LINKS = work_item.incident_links(
    incident(), CHECKOUT, "https://firebell.azurewebsites.net/api", "https://status.example.com/"
)


# --- fields and documents -----------------------------------------------------------------------------------------
def test_the_title_names_the_incident_and_its_severity_and_fits_boards_limit():
    assert work_item.item_title(incident()) == "INC-7 [SEV2] Checkout <b>latency</b> & errors"
    long = work_item.item_title(incident(title="x" * 400, severity=1))
    assert len(long) == 255 and long.startswith("INC-7 [SEV1] xxx") and long.endswith("…")


def test_priority_follows_severity_one_to_one():
    assert [work_item.priority(severity) for severity in (1, 2, 3, 4)] == [1, 2, 3, 4]


def test_links_point_at_the_incident_api_its_status_page_and_the_runbook():
    assert (
        work_item.Links(
            incident_api="https://firebell.azurewebsites.net/api/incidents/INC-7",
            status_page=f"https://status.example.com/incidents/{pid('INC-7')}.html",
            runbook="https://runbooks.example.com/checkout",
        )
        == LINKS
    )
    # Without a host name there is no API link; STATUS_PAGE_URL names the site, with or without a trailing slash.
    for site in ("https://status.example.com", "https://example.com/status/", "https://example.com/status"):
        bare = work_item.incident_links(incident(), CATALOG.default, "", site)
        assert bare == work_item.Links(None, f"{site.rstrip('/')}/incidents/{pid('INC-7')}.html", None)
    # An internal service's incident never has a status page.
    internal = replace(CHECKOUT, public=False)
    assert work_item.incident_links(incident(), internal, "", "https://status.example.com").status_page is None


def test_the_description_is_escaped_html_with_the_five_answers_and_links():
    html = work_item.description_html(incident(), CHECKOUT, LINKS)
    assert "<script>" not in html and "<b>latency" not in html
    assert "<p><b>What happened:</b> Payments fail with &lt;script&gt;alert(1)&lt;/script&gt;</p>" in html
    assert "<li><b>Service:</b> Checkout (checkout)</li>" in html
    assert "<li><b>Severity:</b> SEV2</li>" in html
    assert "<li><b>Detected:</b> 2026-03-14T09:26:53.000Z by a customer report (Ana (customer report))</li>" in html
    assert "<li><b>Customer impact:</b> Cards declined</li>" in html
    assert (
        '<a href="https://firebell.azurewebsites.net/api/incidents/INC-7">Incident INC-7</a> · '
        f'<a href="https://status.example.com/incidents/{pid("INC-7")}.html">Status page</a> · '
        '<a href="https://runbooks.example.com/checkout">Runbook</a>'
    ) in html


def test_the_new_work_item_document_sets_title_description_priority_tags_and_area_path():
    document = work_item.incident_item_document(incident(), CHECKOUT, CONFIG, LINKS)
    assert document == [
        {"op": "add", "path": "/fields/System.Title", "value": "INC-7 [SEV2] Checkout <b>latency</b> & errors"},
        {
            "op": "add",
            "path": "/fields/System.Description",
            "value": work_item.description_html(incident(), CHECKOUT, LINKS),
        },
        {"op": "add", "path": "/fields/Microsoft.VSTS.Common.Priority", "value": 2},
        {"op": "add", "path": "/fields/System.Tags", "value": "firebell; INC-7; checkout; firebell-INC-7-incident"},
        {"op": "add", "path": "/fields/System.AreaPath", "value": "Firebell\\Checkout"},
    ]
    # The default service has no area path: Boards puts the item at the project's root.
    bugs_steps = BoardsConfig(description_field="Microsoft.VSTS.TCM.ReproSteps")
    other = work_item.incident_item_document(incident(service="default"), CATALOG.default, bugs_steps, LINKS)
    assert [operation["path"] for operation in other] == [
        "/fields/System.Title",
        "/fields/Microsoft.VSTS.TCM.ReproSteps",
        "/fields/Microsoft.VSTS.Common.Priority",
        "/fields/System.Tags",
    ]


def test_a_severity_change_replaces_priority_and_title():
    assert work_item.severity_document(incident(severity=1)) == [
        {"op": "replace", "path": "/fields/Microsoft.VSTS.Common.Priority", "value": 1},
        {"op": "replace", "path": "/fields/System.Title", "value": "INC-7 [SEV1] Checkout <b>latency</b> & errors"},
    ]
    assert work_item.state_document("Resolved") == [
        {"op": "replace", "path": "/fields/System.State", "value": "Resolved"}
    ]


def test_a_follow_up_is_a_child_task_with_its_owner_and_a_parent_link():
    action = event(FOLLOW_UP_ADDED, 30, "action-1", text="Alert on queue depth; page payments", owner="Tim Jones")
    follow_up = work_item.FollowUp(action, "Alert on queue depth; page payments", "Tim Jones")
    parent = "https://dev.azure.com/contoso/_apis/wit/workItems/42"
    document = work_item.follow_up_document(
        incident(), follow_up, parent, "tim.jones@example.com", "Firebell\\Checkout", LINKS
    )
    tag = work_item.follow_up_tag("INC-7", action.event_id)
    assert document[0] == {"op": "add", "path": "/fields/System.Title", "value": "Alert on queue depth; page payments"}
    assert document[1]["path"] == "/fields/System.Description"
    assert "added by Tim Jones on 2026-03-14T09:56:53.000Z" in document[1]["value"]
    assert "Checkout &lt;b&gt;latency&lt;/b&gt; &amp; errors" in document[1]["value"]
    assert document[2:] == [
        {"op": "add", "path": "/fields/System.Tags", "value": f"firebell; INC-7; {tag}"},
        {"op": "add", "path": "/fields/System.AssignedTo", "value": "tim.jones@example.com"},
        {"op": "add", "path": "/fields/System.AreaPath", "value": "Firebell\\Checkout"},
        {
            "op": "add",
            "path": "/relations/-",
            "value": {
                "rel": "System.LinkTypes.Hierarchy-Reverse",
                "url": parent,
                "attributes": {"comment": "Follow-up of INC-7"},
            },
        },
    ]
    unassigned = work_item.follow_up_document(incident(), follow_up, parent, None, None, LINKS)
    assert [op["path"] for op in unassigned] == [
        "/fields/System.Title",
        "/fields/System.Description",
        "/fields/System.Tags",
        "/relations/-",
    ]
    assert work_item.without_field(document, "System.AssignedTo") == [d for d in document if d is not document[3]]


def test_unique_tags_never_contain_one_another():
    tags = [work_item.incident_tag(f"INC-{n}") for n in (7, 70, 17, 700)]
    tags += [work_item.follow_up_tag("INC-7", ident) for ident in ("a", "b")]
    for tag in tags:
        assert [other for other in tags if tag in other] == [tag]
    assert work_item.follow_up_tag("INC-7", "a") == work_item.follow_up_tag("INC-7", "a")  # stable across deliveries


def test_tags_never_carry_boards_separators():
    weird = incident(service="pay;ments, eu")
    tags = work_item.incident_item_document(weird, None, CONFIG, LINKS)[3]["value"]
    assert tags == "firebell; INC-7; pay ments  eu; firebell-INC-7-incident"


# --- what a change asks of Boards -----------------------------------------------------------------------------------
def test_the_opening_of_a_severe_enough_incident_asks_for_its_work_item():
    plan = work_item.plan(incident(), [OPENING], [OPENING.event_id], CONFIG)
    assert (plan.ensure_item, plan.update_severity, plan.state, plan.resolutions, plan.follow_ups) == (
        True,
        False,
        None,
        (),
        (),
    )
    assert plan.cause == OPENING


def test_the_opening_asks_for_the_item_when_another_event_sorts_before_it_on_the_timeline():
    # A note named at the declaration's instant can sort first (the channels note did, before it was named 1 ms
    # later); an alert that fired a minute earlier may join after the incident opened. Either way the opening's own
    # change asks for the item.
    note = event(CHANNEL_FAILED, 2, "channel-not-configured")
    earlier = event(ALERT_FIRED, 1, "alert-fired-earlier")
    for timeline in ([note, OPENING], [earlier, OPENING]):
        plan = work_item.plan(incident(), timeline, [OPENING.event_id], CONFIG)
        assert (plan.ensure_item, plan.cause) == (True, OPENING)


def test_a_milder_incident_without_a_work_item_is_left_alone():
    assert work_item.plan(incident(severity=3), [OPENING], [OPENING.event_id], CONFIG).empty
    assert not work_item.plan(incident(severity=3), [OPENING], [OPENING.event_id], BoardsConfig(min_severity=3)).empty


def test_raising_the_severity_into_the_threshold_asks_for_the_item_and_a_priority_update():
    raised = event(SEVERITY_CHANGED, 10, "sev", **{"from": 3, "to": 2})
    plan = work_item.plan(incident(severity=2), [OPENING, raised], [raised.event_id], CONFIG)
    assert (plan.ensure_item, plan.update_severity, plan.cause) == (True, True, raised)
    # Lowered below the threshold, an incident that has its item keeps it in step.
    lowered = event(SEVERITY_CHANGED, 20, "sev-2", **{"from": 2, "to": 4})
    tracked = incident(severity=4, work_item_id=42, work_item_url="https://x/42")
    assert work_item.plan(tracked, [OPENING, lowered], [lowered.event_id], CONFIG).update_severity


def test_resolution_asks_for_a_comment_and_the_mapped_state_of_the_current_status():
    resolved = event(STATUS_CHANGED, 40, "resolve", **{"from": "identified", "to": "resolved"})
    plan = work_item.plan(incident(status="resolved"), [OPENING, resolved], [resolved.event_id], CONFIG)
    assert (plan.resolutions, plan.state) == ((resolved,), "Resolved")
    # Delivered after a reopen, the state follows the incident as it is now (not mapped: left alone).
    reopened = incident(status="investigating")
    plan = work_item.plan(reopened, [OPENING, resolved], [resolved.event_id], CONFIG)
    assert (plan.resolutions, plan.state) == ((resolved,), None)
    # A status the mapping does not know, on its own, asks nothing.
    ack = event(STATUS_CHANGED, 5, "ack", **{"from": "triggered", "to": "acknowledged"})
    assert work_item.plan(incident(status="acknowledged"), [OPENING, ack], [ack.event_id], CONFIG).empty
    mapped = BoardsConfig(states=(("acknowledged", "Active"),))
    assert work_item.plan(incident(status="acknowledged"), [OPENING, ack], [ack.event_id], mapped).state == "Active"


def test_each_follow_up_of_the_change_becomes_one_task_request():
    first = event(FOLLOW_UP_ADDED, 30, "a1", text="Add a canary", owner="Tim Jones")
    second = event(FOLLOW_UP_ADDED, 31, "a2", text="Fix the retry storm", owner="Someone New")
    note = event(NOTE, 32, "n1")
    timeline = [OPENING, first, second, note]
    plan = work_item.plan(incident(), timeline, [first.event_id, second.event_id, note.event_id], CONFIG)
    assert [(f.text, f.owner, f.event) for f in plan.follow_ups] == [
        ("Add a canary", "Tim Jones", first),
        ("Fix the retry storm", "Someone New", second),
    ]
    assert plan.cause == second
    # Events the message does not list, and notes, ask nothing.
    assert work_item.plan(incident(), timeline, [note.event_id, "not-on-the-timeline"], CONFIG).empty


# --- the timeline record --------------------------------------------------------------------------------------------
def test_timeline_events_are_deterministic_so_a_redelivery_writes_each_once():
    at = T0 + timedelta(minutes=3)
    created = work_item.created_event(incident(), 42, "https://x/42", at)
    assert created == work_item.created_event(incident(), 42, "https://x/42", at)
    assert (created.kind, created.at, created.actor, created.source) == (
        WORK_ITEM_CREATED,
        at,
        "Firebell",
        "azure-boards",
    )
    assert created.text == "Azure Boards work item 42 tracks this incident: https://x/42"
    once = work_item.not_configured_event(incident(), T0 + timedelta(hours=1))
    again = work_item.not_configured_event(incident(), T0 + timedelta(hours=5))
    assert once.event_id == again.event_id and once.kind == WORK_ITEM_FAILED
    assert once.text.startswith("Azure Boards not configured")
    failed = work_item.failed_event(incident(), OPENING, "work item not created: x", at, "incident")
    assert failed.event_id == work_item.failed_event(incident(), OPENING, "other words", at, "incident").event_id
    assert failed.event_id != work_item.failed_event(incident(), OPENING, "x", at, "delivery").event_id


# --- the queue message ----------------------------------------------------------------------------------------------
def test_the_queue_message_follows_the_contract():
    body = json.dumps({"incident": "INC-7", "event": "e2", "events": ["e1", "e2"]}).encode()
    assert ChangeMessage.parse(body) == ChangeMessage("INC-7", ("e1", "e2"))
    assert ChangeMessage.parse(body).event == "e2"
    assert ChangeMessage.parse(b'{"incident": "INC-7", "event": "e2"}') == ChangeMessage("INC-7", ("e2",))
    for bad in (b"nope", b"[]", b'{"incident": "INC-7"}', b'{"incident": "INC-7", "event": "e", "events": [1]}'):
        with pytest.raises(InvalidInput):
            ChangeMessage.parse(bad)


# --- configuration --------------------------------------------------------------------------------------------------
def test_the_shipped_boards_toml_is_valid():
    assert load_boards_config(ROOT / "config") == BoardsConfig(
        enabled=True,
        min_severity=2,
        work_item_type="Bug",
        task_type="Task",
        description_field="System.Description",
        states=(("resolved", "Resolved"), ("closed", "Closed")),
        http=HttpPolicy(timeout_seconds=10.0, attempts=4, first_backoff_seconds=0.5, max_backoff_seconds=30.0),
    )
    assert load_boards_config(Path("/nonexistent")) == BoardsConfig()  # optional file: defaults


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"enable": True}, "boards.toml.enable: unknown key"),
        ({"min_severity": 5}, "boards.toml: min_severity: must be a severity from 1 (worst) to 4"),
        ({"work_item_type": ""}, "boards.toml.work_item_type: must be a non-empty string"),
        ({"description_field": "Description"}, "boards.toml: description_field: 'Description' is not a field"),
        ({"states": {"solved": "Done"}}, "boards.toml: states.solved: unknown key"),
        ({"states": {"resolved": 3}}, "boards.toml: states.resolved: must be a non-empty string"),
        ({"http": {"attempts": 0}}, "boards.toml: http.attempts: must be a whole number from 1 to 10"),
        ({"http": {"timeout_seconds": 0}}, "boards.toml: http.timeout_seconds: must be a number of seconds > 0"),
        ({"http": {"retries": 3}}, "boards.toml: http.retries: unknown key"),
        ({"enabled": "yes"}, "boards.toml: enabled: must be true or false"),
    ],
)
def test_a_bad_boards_toml_names_file_key_and_problem(document, problem):
    with pytest.raises(ConfigurationError) as raised:
        parse_boards_config(document, "boards.toml")
    assert raised.value.detail.startswith(problem)


def test_boards_settings_come_from_the_environment_and_the_pat_never_shows():
    settings = Settings.from_environment(
        {
            "AZURE_DEVOPS_ORG_URL": "https://dev.azure.com/contoso/",
            "AZURE_DEVOPS_PROJECT": " Firebell ",
            "AZURE_DEVOPS_PAT": "secret-pat-value",
            "WEBSITE_HOSTNAME": "firebell.azurewebsites.net",
        }
    )
    assert (settings.azure_devops_org_url, settings.azure_devops_project) == (
        "https://dev.azure.com/contoso",
        "Firebell",
    )
    assert settings.boards_configured and settings.azure_devops_pat == "secret-pat-value"
    assert "secret-pat-value" not in repr(settings)
    assert settings.api_base_url == "https://firebell.azurewebsites.net/api"
    assert Settings.from_environment({"WEBSITE_HOSTNAME": "localhost:7071"}).api_base_url == "http://localhost:7071/api"
    assert not Settings.from_environment({"AZURE_DEVOPS_ORG_URL": "https://dev.azure.com/contoso"}).boards_configured
