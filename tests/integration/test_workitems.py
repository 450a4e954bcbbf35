"""The `workitems` queue function drives the REAL azure-devops SDK over HTTP against a local Azure DevOps stand-in
(tests/standins/boards_server.py), with the incident store in Azurite.

Most tests call the queue handler with a real `func.QueueMessage`: they choose the delivery count (the last delivery
is the one that notes a failure on the timeline) and crash between "created in Boards" and "recorded by us" through
the handler's own hook, without waiting out visibility timeouts. One test runs the function in the devhost, from the
`workitems` queue, as Azure would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.functions.queue import QueueMessage

from functions import context
from shared.chatops import intake as chatops_intake
from shared.chatops.grammar import parse_command
from shared.chatops.rules import Said
from shared.core import storage, telemetry
from shared.core.timeutil import utc_now
from shared.incidents.declaration import Declaration
from shared.incidents.declaration_intake import open_declared
from shared.incidents.incident import Incident
from shared.incidents.timeline import WORK_ITEM_CREATED, WORK_ITEM_FAILED, WORK_ITEM_UPDATED, TimelineEvent
from shared.workitems import plan as work_item
from shared.workitems import sync
from shared.workitems.boards import BoardsAuthFailed, BoardsUnavailable, WorkItemRef
from shared.workitems.config import HttpPolicy
from shared.workitems.ledger import LEDGER_TABLE, Ledger, lease_for
from tests.conftest import ROOT, pause_of, redeliver, wait_until
from tests.standins.boards_server import BoardsServer
from tests.unit.statuspage.ids import pid

# A timeout with room for a busy CI machine: a stand-in answer slower than this is a scripted fault, not load.
FAST_HTTP = """
[http]
timeout_seconds = 3
attempts = 3
first_backoff_seconds = 0.05
max_backoff_seconds = 2
"""
FAST_POLICY = HttpPolicy(timeout_seconds=3, attempts=3, first_backoff_seconds=0.05, max_backoff_seconds=2)
IDENTITY_VARIABLES = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT")


@pytest.fixture
def boards() -> Iterator[BoardsServer]:
    with BoardsServer(identities=("tim.jones@example.com",)) as server:
        yield server


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    for name in ("services.toml", "people.toml"):
        shutil.copy(ROOT / "config" / name, folder / name)
    (folder / "boards.toml").write_text(FAST_HTTP)
    return folder


@pytest.fixture
def configured(storage_account, boards, config_dir, monkeypatch) -> BoardsServer:
    """Firebell pointed at the stand-in with a PAT; Boards settings as an operator sets them."""
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("AZURE_DEVOPS_ORG_URL", boards.org_url)
    monkeypatch.setenv("AZURE_DEVOPS_PROJECT", boards.project)
    monkeypatch.setenv("AZURE_DEVOPS_PAT", boards.pat)
    monkeypatch.setenv("WEBSITE_HOSTNAME", "firebell.azurewebsites.net")
    monkeypatch.setenv("STATUS_PAGE_URL", "https://status.example.com/")
    for name in (*IDENTITY_VARIABLES, "AZURE_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    context.reset()
    return boards


def boards_toml(config_dir: Path, text: str) -> None:
    (config_dir / "boards.toml").write_text(text + FAST_HTTP)
    context.reset()


def declare(severity: int = 2, title: str = "Checkout <b>latency</b>") -> tuple[Incident, TimelineEvent]:
    declaration = Declaration(
        title=title,
        severity=severity,
        reporter="Ana Souza",
        service="checkout",
        components=("Checkout",),
        source="customer",
        description="Card payments time out",
        customer_impact="Checkout fails for a third of customers",
        detected_at=None,
    )
    declared = open_declared(declaration, None, context.incident_store(), context.catalog(), utc_now())
    assert declared.event is not None
    return declared.incident, declared.event


def chat(text: str, speaker: str = "Tim Jones") -> list[str]:
    """A Teams command applied as Teams would; the event ids it wrote (what the message lists)."""
    said = Said(text=text, speaker=speaker, at=utc_now(), message_id=uuid.uuid4().hex)
    decision = chatops_intake.handle(parse_command(text), said, context.incident_store(), context.catalog(), "")
    assert decision.events, decision.reply
    return [event.event_id for event in decision.events]


def message(incident_id: str, event_ids: list[str], dequeue_count: int = 1) -> QueueMessage:
    body = json.dumps({"incident": incident_id, "event": event_ids[-1], "events": event_ids})
    return QueueMessage(id=uuid.uuid4().hex, body=body.encode(), dequeue_count=dequeue_count)


def handle(
    delivery: QueueMessage, *, now: datetime | None = None, after_created: sync.AfterCreated | None = None
) -> Any:
    """What the `workitems` function does with a delivery, with this test's clock and crash hook; the deferred
    message when it deferred it."""
    return sync.on_change(
        delivery.get_body(),
        delivery.id or "",
        delivery.dequeue_count or 1,
        now or utc_now(),
        store=context.incident_store(),
        settings=context.settings(),
        config=context.configuration(),
        account=storage.account(),
        after_created=after_created,
    )


def stored(incident_id: str) -> Incident:
    incident = context.incident_store().get_incident(incident_id)
    assert incident is not None
    return incident


def timeline(incident_id: str, kind: str) -> list[TimelineEvent]:
    return [event for event in context.incident_store().timeline(incident_id) if event.kind == kind]


def creates(boards: BoardsServer) -> list:
    return boards.requests("POST", "/_apis/wit/workItems/$")


# --- the incident's work item ---------------------------------------------------------------------------------------
def test_a_sev2_incident_gets_one_work_item_through_the_sdks_documented_endpoints(configured, sdk_cache_dir, metrics):
    boards = configured
    incident, opening = declare(severity=2)
    handle(message(incident.id, [opening.event_id]))

    (item,) = boards.work_items()
    url = f"{boards.org_url}/Firebell/_workitems/edit/{item.id}"
    assert item.type == "Bug"
    assert item.fields["System.Title"] == "INC-1 [SEV2] Checkout <b>latency</b>"
    assert item.fields["Microsoft.VSTS.Common.Priority"] == 2
    assert item.fields["System.Tags"] == "firebell; INC-1; checkout; firebell-INC-1-incident"
    assert item.fields["System.AreaPath"] == "Firebell\\Checkout"
    description = item.fields["System.Description"]
    assert "Checkout &lt;b&gt;latency&lt;/b&gt;" not in description  # the description tells what happened instead
    assert "<p><b>What happened:</b> Card payments time out</p>" in description
    assert '<a href="https://firebell.azurewebsites.net/api/incidents/INC-1">Incident INC-1</a>' in description
    assert f'<a href="https://status.example.com/incidents/{pid("INC-1")}.html">Status page</a>' in description
    assert '<a href="https://runbooks.example.com/checkout">Runbook</a>' in description
    # Recorded on the incident and on its timeline.
    recorded = stored(incident.id)
    assert (recorded.work_item_id, recorded.work_item_url) == (item.id, url)
    (created,) = timeline(incident.id, WORK_ITEM_CREATED)
    assert created.text == f"Azure Boards work item {item.id} tracks this incident: {url}"
    # The SDK's own sequence: discovery, the resource area, WIQL for the tag, the create — each at the api-version
    # it negotiated, in Accept, with the PAT as Basic credentials.
    sequence = [(r.method, r.path.removeprefix(f"/{boards.org}"), r.api_version) for r in boards.requests()]
    assert sequence == [
        ("OPTIONS", "/_apis", None),
        ("GET", "/_apis/ResourceAreas", "7.1-preview.1"),
        ("POST", "/Firebell/_apis/wit/wiql", "7.1-preview.2"),
        ("POST", "/Firebell/_apis/wit/workItems/$Bug", "7.1-preview.3"),
    ]
    assert {r.authorization for r in boards.requests()} == {boards.basic()}
    wiql = boards.requests("POST", "/wiql")[0].json["query"]
    assert "[System.Tags] CONTAINS 'firebell-INC-1-incident'" in wiql
    # The SDK keeps what it discovered in AZURE_DEVOPS_CACHE_DIR, keyed by organisation URL.
    for cache in ("options.json", "resources.json"):
        assert boards.org_url.lower() in json.loads((sdk_cache_dir / cache).read_text())

    # Delivered again: the ledger answers, Boards is not asked to create anything.
    handle(message(incident.id, [opening.event_id], dequeue_count=2))
    assert len(boards.work_items()) == 1 and len(creates(boards)) == 1
    assert len(timeline(incident.id, WORK_ITEM_CREATED)) == 1
    assert metrics.points(telemetry.WORK_ITEMS_CREATED) == [({"type": "Bug"}, 1)]


def test_a_milder_incident_gets_no_work_item(configured):
    incident, opening = declare(severity=3)
    handle(message(incident.id, [opening.event_id]))
    assert configured.requests() == [] and stored(incident.id).work_item_id is None


def test_a_crash_between_created_in_boards_and_recorded_by_us_still_leaves_one_item(configured):
    boards = configured
    incident, opening = declare()

    def crash(key: str, ref: WorkItemRef) -> None:
        raise RuntimeError(f"process died after creating {key} as {ref.id}")

    with pytest.raises(RuntimeError, match="process died after creating incident as 1"):
        handle(message(incident.id, [opening.event_id]), after_created=crash)
    assert len(boards.work_items()) == 1
    assert stored(incident.id).work_item_id is None and timeline(incident.id, WORK_ITEM_CREATED) == []

    handle(message(incident.id, [opening.event_id], dequeue_count=2))
    (item,) = boards.work_items()
    assert len(creates(boards)) == 1  # found by its tag, not created again
    assert stored(incident.id).work_item_id == item.id
    assert len(timeline(incident.id, WORK_ITEM_CREATED)) == 1

    # The same for a follow-up's task.
    action = chat(f"action {incident.id} Add a canary for card payments")
    with pytest.raises(RuntimeError, match="process died after creating action-"):
        handle(message(incident.id, action), after_created=crash)
    handle(message(incident.id, action, dequeue_count=2))
    handle(message(incident.id, action, dequeue_count=3))
    assert len(boards.work_items("Task")) == 1 and len(creates(boards)) == 2

    # And for a resolution's comment: found again by the event it names.
    resolved = chat(f"resolve {incident.id} failed over to the second gateway")
    with pytest.raises(RuntimeError, match="process died after creating comment-"):
        handle(message(incident.id, resolved), after_created=crash)
    handle(message(incident.id, resolved, dequeue_count=2))
    assert len(boards.work_items("Bug")[0].comments) == 1


def test_a_live_claim_defers_a_concurrent_delivery_and_an_expired_one_is_taken_over(configured):
    incident, opening = declare()
    lease = lease_for(FAST_POLICY)
    Ledger(storage.account().table(LEDGER_TABLE), lease).claim(incident.id, "incident", utc_now())  # held elsewhere
    deferred = handle(message(incident.id, [opening.event_id]))
    assert pause_of(deferred) == timedelta(seconds=10)  # it comes back after a pause, not 5 times in 25 s to poison
    assert creates(configured) == []

    # That delivery died without releasing its claim: once the lease has run out, the next delivery goes ahead.
    later = utc_now() + lease + timedelta(seconds=1)
    assert handle(message(incident.id, [opening.event_id], dequeue_count=2), now=later) is None
    assert len(configured.work_items()) == 1 and stored(incident.id).work_item_id == 1


def test_a_claim_left_by_a_failed_delivery_is_taken_over_by_the_same_messages_redelivery_at_once(configured):
    incident, opening = declare()
    first = message(incident.id, [opening.event_id])
    # That delivery claimed the effect, then storage failed: its release failed with it and the claim stays live.
    ledger = Ledger(storage.account().table(LEDGER_TABLE), lease_for(FAST_POLICY))
    ledger.claim(incident.id, "incident", utc_now(), claimant=first.id)
    other = message(incident.id, [opening.event_id])  # another message about the same change still waits its turn
    assert pause_of(handle(other)) == timedelta(seconds=10) and creates(configured) == []

    # The host delivers the message again only after that delivery ended: its claim is no competitor.
    again = QueueMessage(id=first.id, body=first.get_body(), dequeue_count=2)
    assert handle(again) is None
    (item,) = configured.work_items()
    assert stored(incident.id).work_item_id == item.id and len(timeline(incident.id, WORK_ITEM_CREATED)) == 1
    assert ledger.entry(incident.id, "incident").work_item_id == item.id


# --- changes that follow ----------------------------------------------------------------------------------------------
def test_a_severity_change_updates_priority_and_title(configured):
    boards = configured
    incident, opening = declare(severity=2)
    handle(message(incident.id, [opening.event_id]))
    handle(message(incident.id, chat(f"sev {incident.id} 1")))
    (item,) = boards.work_items()
    assert item.fields["Microsoft.VSTS.Common.Priority"] == 1
    assert item.fields["System.Title"] == "INC-1 [SEV1] Checkout <b>latency</b>"
    (patch,) = boards.requests("PATCH")
    assert patch.api_version == "7.1-preview.3"
    assert patch.json == [
        {"op": "replace", "path": "/fields/Microsoft.VSTS.Common.Priority", "value": 1},
        {"op": "replace", "path": "/fields/System.Title", "value": "INC-1 [SEV1] Checkout <b>latency</b>"},
    ]
    (updated,) = timeline(incident.id, WORK_ITEM_UPDATED)
    assert updated.text == f"Azure Boards work item {item.id}: priority 1 and title follow the severity"


def test_raising_a_milder_incident_into_the_threshold_creates_its_item(configured):
    incident, opening = declare(severity=3)
    handle(message(incident.id, [opening.event_id]))
    handle(message(incident.id, chat(f"sev {incident.id} 2")))
    (item,) = configured.work_items()
    assert item.fields["System.Title"] == "INC-1 [SEV2] Checkout <b>latency</b>"
    assert configured.requests("PATCH") == []  # created with the current severity: nothing to update


def test_resolving_adds_one_comment_and_moves_the_state(configured):
    boards = configured
    incident, opening = declare()
    handle(message(incident.id, [opening.event_id]))
    resolved = chat(f"resolve {incident.id} rolled back the payment gateway deploy")
    handle(message(incident.id, resolved))
    handle(message(incident.id, resolved, dequeue_count=2))  # redelivered: no second comment

    (item,) = boards.work_items()
    assert item.fields["System.State"] == "Resolved"
    (comment,) = item.comments
    assert "INC-1 was resolved on" in comment["text"] and "by Tim Jones" in comment["text"]
    assert "rolled back the payment gateway deploy" in comment["text"]
    assert f"Firebell event {resolved[-1]}" in comment["text"]
    assert {r.api_version for r in boards.requests(path_contains="/comments")} == {"7.1-preview.4"}
    texts = sorted(event.text for event in timeline(incident.id, WORK_ITEM_UPDATED))
    assert texts == [
        f"Azure Boards work item {item.id}: resolution comment added",
        f"Azure Boards work item {item.id}: state moved to Resolved",
    ]


def test_a_follow_up_becomes_a_child_task_assigned_to_its_owner(configured):
    boards = configured
    incident, opening = declare()
    handle(message(incident.id, [opening.event_id]))
    handle(message(incident.id, chat(f"action {incident.id} Alert on card gateway queue depth")))
    handle(message(incident.id, chat(f"action {incident.id} Write the postmortem", speaker="Nadia Visitor")))
    handle(message(incident.id, chat(f"action {incident.id} Load-test the gateway", speaker="Priya Raman")))

    parent = boards.work_items("Bug")[0]
    tasks = sorted(boards.work_items("Task"), key=lambda task: task.id)
    assert [task.fields["System.Title"] for task in tasks] == [
        "Alert on card gateway queue depth",
        "Write the postmortem",
        "Load-test the gateway",
    ]
    # Known with an email Boards knows → assigned; unknown to people.toml → unassigned; known to people.toml but not
    # to the organisation (Boards refuses the identity) → created unassigned rather than not at all.
    assert [task.fields.get("System.AssignedTo") for task in tasks] == ["tim.jones@example.com", None, None]
    for task in tasks:
        assert task.relations == [
            {
                "rel": "System.LinkTypes.Hierarchy-Reverse",
                "url": f"{boards.org_url}/_apis/wit/workItems/{parent.id}",
                "attributes": {"comment": "Follow-up of INC-1"},
            }
        ]
        assert task.fields["System.AreaPath"] == "Firebell\\Checkout"
        assert task.fields["System.Tags"].startswith("firebell; INC-1; firebell-INC-1-action-")
    created = [event for event in timeline(incident.id, WORK_ITEM_CREATED) if "follow_up" in event.data]
    assert sorted(event.data["work_item_id"] for event in created) == [task.id for task in tasks]


# --- faults ---------------------------------------------------------------------------------------------------------
def test_throttling_is_retried_after_the_retry_after_it_asked_for(configured):
    boards = configured
    incident, opening = declare()
    boards.fail_next(429, retry_after="1", method="POST", path_contains="/workItems/$")
    handle(message(incident.id, [opening.event_id]))
    assert len(boards.work_items()) == 1
    throttled, created = creates(boards)
    assert (throttled.status, created.status) == (429, 200)
    wiql_after = [r for r in boards.requests("POST", "/wiql") if r.arrived > throttled.arrived]
    assert wiql_after[0].arrived - throttled.arrived >= 1.0  # the retry looked up the tag again, after Retry-After


def test_server_errors_are_retried_with_backoff(configured):
    boards = configured
    incident, opening = declare()
    boards.fail_next(500, times=2, method="POST", path_contains="/wiql")
    handle(message(incident.id, [opening.event_id]))
    assert [r.status for r in boards.requests("POST", "/wiql")] == [500, 500, 200]
    assert len(boards.work_items()) == 1


def test_a_create_that_timed_out_but_happened_is_found_not_repeated(configured):
    boards = configured
    incident, opening = declare()
    boards.slow_next(3.6, method="POST", path_contains="/workItems/$")  # done at once, answered after the timeout
    handle(message(incident.id, [opening.event_id]))
    assert len(boards.work_items()) == 1 and len(creates(boards)) == 1
    assert stored(incident.id).work_item_id == 1
    # The create timed out (timeout_seconds = 3): the retry looked the tag up again and found the item.
    assert len(boards.requests("POST", "/wiql")) == 2


def test_a_long_retry_after_defers_the_message_for_exactly_that_long_and_releases_the_claim(configured):
    boards = configured
    incident, opening = declare()
    boards.fail_next(429, retry_after="120", method="POST", path_contains="/wiql")
    deferred = handle(message(incident.id, [opening.event_id]))  # completes: not a failed delivery
    assert len(boards.requests("POST", "/wiql")) == 1  # not waited for in-process
    assert pause_of(deferred) == timedelta(seconds=120)  # Boards' Retry-After, not the 10 s backoff
    assert json.loads(deferred.content)["deferrals"] == 1
    # The pause holds no claim: the failing delivery released it, and the deferred copy claims afresh.
    assert Ledger(storage.account().table(LEDGER_TABLE), lease_for(FAST_POLICY)).entry(incident.id, "incident") is None
    assert timeline(incident.id, WORK_ITEM_FAILED) == []


def ride_out(body: str, start: datetime, outage: timedelta | None, boards: BoardsServer) -> tuple[list[int], Any]:
    """Deliver `body` at `start`, then each deferred copy as the queue hands it out after its pause (the test's clock
    moved on by it, the copy made visible at once); the scripted faults are cleared once the clock passes
    `start + outage`. Returns the pauses in seconds, and None when it completed or (the failure, the clock, the
    delivery) when a delivery raised instead of deferring."""
    queue = storage.account().queue("workitems")
    pauses: list[int] = []
    now, delivery = start, QueueMessage(id="m-1", body=body.encode(), dequeue_count=1)
    while True:
        try:
            deferred = handle(delivery, now=now)
        except BoardsUnavailable as failure:
            return pauses, (failure, now, delivery)
        if deferred is None:
            return pauses, None
        pauses.append(int(pause_of(deferred).total_seconds()))
        now += pause_of(deferred)
        if outage is not None and now >= start + outage:
            boards.clear_faults()
        received = redeliver(queue, deferred)
        queue.delete_message(received)
        delivery = QueueMessage(id=received.id, body=received.content.encode(), dequeue_count=received.dequeue_count)


def test_a_429_storm_delays_the_work_item_and_it_is_created_once_after_it(configured):
    boards = configured
    incident, opening = declare()
    boards.fail_next(429, retry_after="120", times=10_000)  # every request, discovery included, for 20 minutes
    body = json.dumps({"incident": incident.id, "event": opening.event_id, "events": [opening.event_id]})
    pauses, ended = ride_out(body, utc_now(), timedelta(minutes=20), boards)
    assert (pauses, ended) == ([120] * 10, None)  # Retry-After each time
    (item,) = boards.work_items()
    assert len([r for r in creates(boards) if r.status == 200]) == 1
    assert stored(incident.id).work_item_id == item.id and len(timeline(incident.id, WORK_ITEM_CREATED)) == 1
    assert timeline(incident.id, WORK_ITEM_FAILED) == []
    assert storage.account().queue("workitems").get_queue_properties().approximate_message_count == 0


def test_a_503_outage_delays_the_work_item_and_it_is_created_once_after_it(configured):
    boards = configured
    incident, opening = declare()
    boards.fail_next(503, times=10_000)
    body = json.dumps({"incident": incident.id, "event": opening.event_id, "events": [opening.event_id]})
    pauses, ended = ride_out(body, utc_now(), timedelta(minutes=5), boards)
    assert (pauses, ended) == ([10, 20, 40, 80, 160], None)  # backoff: no Retry-After
    assert len(boards.work_items()) == 1 and len([r for r in creates(boards) if r.status == 200]) == 1
    assert len(timeline(incident.id, WORK_ITEM_CREATED)) == 1 and timeline(incident.id, WORK_ITEM_FAILED) == []


def test_an_outage_longer_than_the_bound_is_written_on_the_timeline_once_by_the_last_delivery(configured):
    boards = configured
    incident, opening = declare()
    boards.fail_next(503, times=10_000, method="POST", path_contains="/wiql")
    body = json.dumps({"incident": incident.id, "event": opening.event_id, "events": [opening.event_id]})
    pauses, ended = ride_out(body, utc_now(), None, boards)
    assert pauses == [10, 20, 40, 80, 160, *[300] * 8]  # 45 minutes (shared.core.deferral.OUTAGE_BOUND)
    _, now, delivery = ended
    assert timeline(incident.id, WORK_ITEM_FAILED) == []
    for dequeue_count in (2, 3, 4, 5):  # the queue's own redeliveries; never deferred again
        with pytest.raises(BoardsUnavailable):
            handle(QueueMessage(id=delivery.id, body=delivery.get_body(), dequeue_count=dequeue_count), now=now)
        assert storage.account().queue("workitems").get_queue_properties().approximate_message_count == 0
    (failed,) = timeline(incident.id, WORK_ITEM_FAILED)  # → workitems-poison
    assert failed.text == "work item not created: creating a Bug: Azure DevOps answered 503 (Injected 503)"
    assert boards.work_items() == []


def test_a_change_message_with_deferral_keys_is_read_as_before():
    from shared.incidents.changes import ChangeMessage

    plain = {"incident": "INC-1", "event": "e2", "events": ["e1", "e2"], "kinds": ["alert.fired"]}
    extra = {**plain, "holder": "m-1", "deferrals": 2, "first_failure": "2026-12-02T10:00:00.000Z"}
    assert ChangeMessage.parse(json.dumps(extra)) == ChangeMessage.parse(json.dumps(plain))


def test_an_unknown_field_is_not_retried_and_the_timeline_names_it(configured, config_dir):
    boards = configured
    boards_toml(config_dir, 'description_field = "Custom.CustomerImpact"\n')
    incident, opening = declare()
    handle(message(incident.id, [opening.event_id]))  # completes: retrying cannot help
    (failed,) = timeline(incident.id, WORK_ITEM_FAILED)
    assert failed.text == (
        "work item not created: Custom.CustomerImpact — TF51535: Cannot find field Custom.CustomerImpact."
    )
    assert len(creates(boards)) == 1 and boards.work_items() == []
    assert stored(incident.id).work_item_id is None


def test_an_unknown_work_item_type_is_named_on_the_timeline(configured, config_dir):
    boards_toml(config_dir, 'work_item_type = "Incident"\n')
    incident, opening = declare()
    handle(message(incident.id, [opening.event_id]))
    (failed,) = timeline(incident.id, WORK_ITEM_FAILED)
    assert failed.text.startswith(
        "work item not created: work item type 'Incident' — VS402323: Work item type Incident does not exist"
    )
    assert len(creates(configured)) == 1


def test_a_state_boards_refuses_is_named_and_the_rest_still_happens(configured, config_dir):
    boards_toml(config_dir, '[states]\nresolved = "Fixed"\n')
    incident, opening = declare()
    handle(message(incident.id, [opening.event_id]))
    handle(message(incident.id, chat(f"resolve {incident.id} gateway restarted")))
    (item,) = configured.work_items()
    assert len(item.comments) == 1 and item.fields["System.State"] == "New"
    (failed,) = timeline(incident.id, WORK_ITEM_FAILED)
    assert (
        failed.text == "work item not updated: State — TF401320: Rule Error for field State. Error code: "
        "LimitedToValues, AllowsOldValue."
    )


def test_boards_not_configured_is_said_once_per_incident_and_nothing_crashes(configured, monkeypatch):
    monkeypatch.delenv("AZURE_DEVOPS_ORG_URL")
    incident, opening = declare()
    handle(message(incident.id, [opening.event_id]))
    handle(message(incident.id, chat(f"sev {incident.id} 1")))
    (said,) = timeline(incident.id, WORK_ITEM_FAILED)
    assert said.text == work_item.NOT_CONFIGURED
    assert configured.requests() == []


def test_switched_off_in_boards_toml_nothing_is_sent_or_written(configured, config_dir):
    boards_toml(config_dir, "enabled = false\n")
    incident, opening = declare()
    handle(message(incident.id, [opening.event_id]))
    assert configured.requests() == [] and timeline(incident.id, WORK_ITEM_FAILED) == []


# --- authentication -----------------------------------------------------------------------------------------------
def test_without_a_pat_a_managed_identity_token_is_used(configured, monkeypatch):
    boards = configured
    monkeypatch.delenv("AZURE_DEVOPS_PAT")
    monkeypatch.setenv("IDENTITY_ENDPOINT", boards.identity_endpoint)  # App Service / Functions managed identity
    monkeypatch.setenv("IDENTITY_HEADER", boards.identity_header)
    incident, opening = declare()
    handle(message(incident.id, [opening.event_id]))
    handle(message(incident.id, chat(f"sev {incident.id} 1")))
    assert len(boards.work_items()) == 1
    devops = [r for r in boards.requests() if not r.path.startswith("/msi/")]
    assert len(devops) == 5 and {r.authorization for r in devops} == {f"Bearer {boards.token}"}
    assert boards.token_requests == 1  # azure-identity keeps the token until it expires
    assert boards.token_client_ids == [""]  # no user-assigned identity named: the system-assigned one


@pytest.mark.parametrize(
    ("settings", "client_id"),
    [
        (
            {"AzureWebJobsStorage__clientId": "6d9c6f7e-0000-4000-8000-00000000c11d"},
            "6d9c6f7e-0000-4000-8000-00000000c11d",
        ),
        (
            {"AZURE_CLIENT_ID": "0a1b2c3d-0000-4000-8000-0000000a2c1d", "AzureWebJobsStorage__clientId": "other"},
            "0a1b2c3d-0000-4000-8000-0000000a2c1d",
        ),
    ],
)
def test_the_managed_identity_token_is_for_the_user_assigned_identity_storage_uses(
    configured, monkeypatch, settings, client_id
):
    boards = configured
    monkeypatch.delenv("AZURE_DEVOPS_PAT")
    monkeypatch.setenv("IDENTITY_ENDPOINT", boards.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", boards.identity_header)
    monkeypatch.delenv("AZURE_CLIENT_ID", raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    incident, opening = declare()
    handle(message(incident.id, [opening.event_id]))
    assert len(boards.work_items()) == 1
    assert boards.token_client_ids == [client_id]


def test_a_refused_pat_is_not_retried_in_process(configured, monkeypatch):
    monkeypatch.setenv("AZURE_DEVOPS_PAT", "expired-pat")
    incident, opening = declare()
    with pytest.raises(BoardsAuthFailed, match="refused the credentials \\(401\\)"):
        handle(message(incident.id, [opening.event_id]))
    assert [r.status for r in configured.requests()] == [401]


# --- the queue, and cold starts -------------------------------------------------------------------------------------
def test_a_declaration_through_the_api_reaches_boards_through_the_workitems_queue(configured, firebell, monkeypatch):
    """The whole path in the devhost, as Azure runs it: POST /api/incidents enqueues the change on `workitems`, the
    queue trigger runs this function, the SDK creates the item in the stand-in and the incident records it."""
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", "boards-test-key")
    declaration = {
        "title": "Visa payments fail",
        "severity": 1,
        "reporter": "Dana (support desk)",
        "service": "checkout",
    }
    answer = requests.post(
        f"{firebell}/incidents", json=declaration, headers={"x-functions-key": "boards-test-key"}, timeout=30
    )
    assert answer.status_code == 201
    incident_id = answer.json()["id"]
    # Two queue hops (notifications forwards to workitems) and the Boards SDK's first import: a bound for a busy
    # machine, not a latency figure (bench.channel_latency and the README measure those).
    try:
        wait_until(lambda: stored(incident_id).work_item_id is not None, timeout=60)
    except AssertionError:
        raise AssertionError(where_it_stopped(incident_id, configured)) from None
    (item,) = configured.work_items()
    assert item.fields["System.Title"] == f"{incident_id} [SEV1] Visa payments fail"
    assert stored(incident_id).work_item_id == item.id


def where_it_stopped(incident_id: str, boards: BoardsServer) -> str:
    """What the two-hop path left behind, for a failure to say where it stopped."""
    account = storage.account()
    queues = {name: account.message_count(name) for name in ("notifications", "workitems")}
    poisoned = {name: account.message_count(f"{name}-poison") for name in ("notifications", "workitems")}
    kinds = [event.kind for event in context.incident_store().timeline(incident_id)]
    return (
        f"no work item within 60 s: queues {queues}, poison {poisoned}, timeline {kinds}, "
        f"{len(boards.requests())} requests at the Boards stand-in"
    )


def test_importing_function_app_loads_no_boards_sdk():
    code = (
        "import json, sys, function_app\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('msrest', 'msal')"
        " or m.startswith(('azure.devops', 'azure.identity')))))"
    )
    environment = {**os.environ, "FIREBELL_CONFIG_DIR": str(ROOT / "config")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env=environment
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
