"""Follow-ups to done, over real parts: the azure-devops SDK against the Boards stand-in
(tests/standins/boards_server.py) over HTTP, Azurite, the real FunctionApp in the devhost, and the stand-in's own
service hook deliveries of the documented `workitem.updated` event to POST /api/boards/events.

`action … owner: … due: …` becomes a child task carrying both; closing the task in Boards records "follow-up done"
once however often the event is delivered; forged credentials and bad input store nothing; an overdue follow-up
reminds its owner once a day, found through the follow-up index alone.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from functions import context
from shared.chatops import intake as chatops_intake
from shared.chatops.grammar import parse_command
from shared.chatops.rules import Said
from shared.core import storage
from shared.core.storage import StorageAccount
from shared.core.timeutil import utc_now
from shared.incidents.store import IncidentStore
from shared.incidents.timeline import FOLLOW_UP_ADDED, FOLLOW_UP_DONE, REMINDER_SENT, WORK_ITEM_FAILED
from shared.notifications.followup_reminders import remind_follow_ups
from shared.notifications.ledger import EscalationLedger
from shared.notifications.notifier import Notifier
from shared.workitems.followup_index import FOLLOWUPS_TABLE, FollowUpIndex
from tests.conftest import ROOT, SAMPLES, TEAMS_TOKEN, running_firebell, wait_until
from tests.integration.test_notifications import fast_sender
from tests.integration.test_teams_chatops import activity, signature
from tests.integration.test_workitems import FAST_HTTP, IDENTITY_VARIABLES, chat, declare, handle, message, timeline
from tests.standins.boards_server import BoardsServer, Subscription
from tests.standins.workflow_server import WorkflowServer

DUE_FIELD = "Microsoft.VSTS.Scheduling.DueDate"
SECRET = "hook-secret-for-tests-only"
PRIYA = ("priya.raman@example.com", "3f9c2a71-5b8e-4d0c-9e61-7a2b4c8d1e05")  # people.toml: email, Entra object id
HOOK_SAMPLE = SAMPLES / "azure-devops" / "workitem_updated.json"


@pytest.fixture
def boards() -> Iterator[BoardsServer]:
    # An organisation whose Task type has the due date field (added to the type in the project's process).
    identities = ("tim.jones@example.com", PRIYA[0], "larry.brown@example.com")
    with BoardsServer(identities=identities, extra_fields={"Task": {DUE_FIELD}}) as server:
        yield server


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    for name in ("services.toml", "people.toml", "authorization.toml", "oncall.toml", "escalations.toml"):
        if (ROOT / "config" / name).exists():
            shutil.copy(ROOT / "config" / name, folder / name)
    (folder / "boards.toml").write_text(FAST_HTTP)
    return folder


@pytest.fixture
def configured(storage_account, boards, config_dir, monkeypatch) -> BoardsServer:
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("AZURE_DEVOPS_ORG_URL", boards.org_url)
    monkeypatch.setenv("AZURE_DEVOPS_PROJECT", boards.project)
    monkeypatch.setenv("AZURE_DEVOPS_PAT", boards.pat)
    monkeypatch.setenv("BOARDS_SERVICE_HOOK_SECRET", SECRET)
    for name in (*IDENTITY_VARIABLES, "AZURE_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    context.reset()
    return boards


def follow_up_task(boards: BoardsServer, text: str) -> tuple[str, Any]:
    """Declare a SEV2 incident, give it its work item, and add the follow-up `text`; (incident id, its task)."""
    incident, opening = declare()
    handle(message(incident.id, [opening.event_id]))
    handle(message(incident.id, chat(f"action {incident.id} {text}")))
    (task,) = boards.work_items("Task")
    return incident.id, task


def rows(table: str) -> list[dict[str, Any]]:
    return sorted(storage.account().table(table).list_entities(), key=lambda row: (row["PartitionKey"], row["RowKey"]))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- owner and due date to Boards ------------------------------------------------------------------------------------
def test_an_action_with_owner_and_due_date_becomes_a_child_task_carrying_both(configured):
    boards = configured
    incident_id, task = follow_up_task(boards, "Add a retry budget to checkout owner: Priya Raman due: in 3d")
    due = utc_now().date() + timedelta(days=3)

    assert task.fields["System.Title"] == "Add a retry budget to checkout"
    assert task.fields["System.AssignedTo"] == PRIYA[0]  # people.toml's email for the owner, not the speaker's
    assert task.fields[DUE_FIELD] == f"{due.isoformat()}T12:00:00Z"
    assert "added by Tim Jones on " in task.fields["System.Description"]
    assert f" for Priya Raman, due {due.isoformat()}.</p>" in task.fields["System.Description"]
    (added,) = timeline(incident_id, FOLLOW_UP_ADDED)
    assert (
        added.text
        == f"Tim Jones added a follow-up for Priya Raman, due {due.isoformat()}: Add a retry budget to checkout"
    )
    assert added.data == {
        "text": "Add a retry budget to checkout",
        "owner": "Priya Raman",
        "added_by": "Tim Jones",
        "due": due.isoformat(),
        "message": "action INC-1 Add a retry budget to checkout owner: Priya Raman due: in 3d",  # as said
    }
    # Indexed twice: by its task for the service hook, and under the day its owner is first reminded — 09:00 in
    # Sydney (people.toml) on the day after the due date, which is the evening before in UTC.
    by_task, by_day = rows(FOLLOWUPS_TABLE)[::-1]
    assert (by_task["PartitionKey"], by_task["RowKey"]) == (f"workitem-{task.id}", "followup")
    assert by_day["PartitionKey"] == f"due-{due.isoformat()}"
    assert by_day["RowKey"].startswith(f"{incident_id}-action-")
    assert (by_day["owner"], by_day["owner_zone"], by_day["due"]) == (
        "Priya Raman",
        "Australia/Sydney",
        due.isoformat(),
    )


@pytest.mark.parametrize(
    ("words", "reply"),
    [
        ("due: 2020-01-01", "due 2020-01-01 is in the past; give today or a later date"),
        (
            "due: next week",
            "`action` needs due: with a date, or days or weeks from today: due: 2026-12-20, due: in 3d, due: in 2w",
        ),
        ("owner:", "`action` needs a person after owner: — action INC-7 alert on queue depth owner: Alex Kim"),
    ],
)
def test_a_bad_due_date_or_owner_is_answered_and_makes_no_follow_up_and_no_task(configured, words, reply):
    boards = configured
    incident, opening = declare()
    handle(message(incident.id, [opening.event_id]))
    text = f"action {incident.id} Add a retry budget {words}"
    said = Said(text=text, speaker="Tim Jones", at=utc_now(), message_id="bad-due")
    decision = chatops_intake.handle(parse_command(text), said, context.incident_store(), context.catalog(), "")
    assert decision.reply["text"] == f"**{incident.id}**: {reply}"
    handle(message(incident.id, [event.event_id for event in decision.events]))
    assert timeline(incident.id, FOLLOW_UP_ADDED) == [] and boards.work_items("Task") == []
    assert rows(FOLLOWUPS_TABLE) == []


def test_a_task_type_without_a_due_date_field_still_gets_the_task_and_the_timeline_says_so(
    storage_account, config_dir, monkeypatch
):
    with BoardsServer(identities=(PRIYA[0],)) as boards:  # Agile's Task: no due date field
        monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(config_dir))
        monkeypatch.setenv("AZURE_DEVOPS_ORG_URL", boards.org_url)
        monkeypatch.setenv("AZURE_DEVOPS_PROJECT", boards.project)
        monkeypatch.setenv("AZURE_DEVOPS_PAT", boards.pat)
        context.reset()
        incident_id, task = follow_up_task(boards, "Add a retry budget owner: Priya Raman due: in 2d")
        refused = [r for r in boards.requests("POST", "/workItems/$Task")]
        assert [r.status for r in refused] == [400, 200]
        assert DUE_FIELD not in task.fields and task.fields["System.AssignedTo"] == PRIYA[0]
        due = (utc_now().date() + timedelta(days=2)).isoformat()
        assert [event.text for event in timeline(incident_id, WORK_ITEM_FAILED)] == [
            f"due date not set in Boards: work item {task.id} (Task) has no field {DUE_FIELD}; Firebell still "
            f"reminds its owner after {due}"
        ]
        assert len(rows(FOLLOWUPS_TABLE)) == 2  # the reminders do not depend on Boards holding the date


def test_teams_names_the_owner_by_mention_and_the_queues_carry_it_to_boards(configured, monkeypatch):
    """The whole path as Azure runs it: a signed Teams message mentions the owner (resolved by their Teams id, not
    the display name the mention shows), the change goes notifications → workitems, the SDK creates the task."""
    boards = configured
    monkeypatch.setenv("TEAMS_OUTGOING_WEBHOOK_TOKEN", TEAMS_TOKEN)
    with running_firebell() as firebell:
        incident, opening = declare()
        handle(message(incident.id, [opening.event_id]))
        document = json.loads(
            activity(f"action {incident.id} Page on queue depth owner: <at>Larry (Payments)</at> due: tomorrow")
        )
        larry = "29:1jnFbZYs0qXMLH-O4S9-sDLNc3NVEIMWMnC-q0tVdEa-8BRosfojI35QdNoB-yW8iutWLJzHUm_mqEZSSU8si0Q"
        document["entities"] = [
            {
                "type": "mention",
                "mentioned": {"id": larry, "name": "Larry (Payments)"},
                "text": "<at>Larry (Payments)</at>",
            }
        ]
        body = json.dumps(document).encode()
        answer = requests.post(f"{firebell}/teams", data=body, headers={"Authorization": signature(body)}, timeout=30)
        due = (utc_now().date() + timedelta(days=1)).isoformat()
        assert answer.json()["text"] == (
            f"**{incident.id}**: Tim Jones added a follow-up for Larry Brown, due {due}: Page on queue depth"
        )
        wait_until(lambda: boards.work_items("Task"), timeout=30)
    (task,) = boards.work_items("Task")
    assert (task.fields["System.AssignedTo"], task.fields[DUE_FIELD]) == ("larry.brown@example.com", f"{due}T12:00:00Z")


# --- done in Boards --------------------------------------------------------------------------------------------------
def test_closing_the_task_records_follow_up_done_once_even_when_the_event_is_delivered_twice(configured):
    boards = configured
    incident_id, task = follow_up_task(boards, "Add a retry budget owner: Priya Raman due: in 3d")
    with running_firebell(background=False) as firebell:
        boards.subscribe(Subscription(f"{firebell}/boards/events", username="azure-devops", password=SECRET))
        boards.change_state(task.id, "Active")  # work started: not done
        boards.change_state(task.id, "Closed")
        started, closed = boards.hook_deliveries
        again = boards.redeliver(closed)  # Azure DevOps retries a delivery it did not see answered

    assert (started.status, started.answer) == (
        202,
        {
            "outcome": "ignored",
            "incident": incident_id,
            "reason": f"work item {task.id} moved to 'Active', not a done state (Closed, Done)",
        },
    )
    (done,) = timeline(incident_id, FOLLOW_UP_DONE)
    assert (closed.status, closed.answer) == (
        200,
        {"outcome": "recorded", "incident": incident_id, "event": done.event_id},
    )
    assert (again.status, again.answer) == (
        200,
        {"outcome": "repeated", "incident": incident_id, "event": done.event_id},
    )
    assert (
        done.text == f"follow-up done by Priya Raman (Closed in Azure Boards, work item {task.id}): Add a retry budget"
    )
    assert done.actor == "Priya Raman" and done.data["state"] == "Closed" and done.data["rev"] == 3
    # Readiness and the review are told of it, for each delivery answered 200 (nothing for the ignored update).
    for queue in ("readiness", "postmortems"):
        told = [json.loads(m.content) for m in storage.account().queue(queue).receive_messages(max_messages=32)]
        assert [(m["incident"], m["events"], m["kinds"]) for m in told] == [
            (incident_id, [done.event_id], [FOLLOW_UP_DONE])
        ] * 2
    # Its reminders stop: the due row is gone, the task's row remembers when it was done.
    (by_task,) = rows(FOLLOWUPS_TABLE)
    assert by_task["PartitionKey"] == f"workitem-{task.id}" and by_task["done_at"] is not None
    # The `workitems` message of the follow-up delivered once more finds the task done: no reminders come back.
    (added,) = timeline(incident_id, FOLLOW_UP_ADDED)
    handle(message(incident_id, [added.event_id], dequeue_count=2))
    assert rows(FOLLOWUPS_TABLE) == [by_task] and len(boards.work_items("Task")) == 1


def test_an_update_that_is_not_to_a_done_state_or_not_of_a_follow_up_is_answered_202_and_stores_nothing(configured):
    boards = configured
    _, task = follow_up_task(boards, "Add a retry budget due: in 3d")
    before = (rows("timeline"), rows(FOLLOWUPS_TABLE))
    with running_firebell(background=False) as firebell:
        boards.subscribe(Subscription(f"{firebell}/boards/events", headers={"X-Firebell-Secret": SECRET}))
        boards.change_state(task.id, "Active")
        (parent,) = boards.work_items("Bug")
        boards.change_state(parent.id, "Active")  # the incident's own item is no follow-up
        sample = requests.post(
            f"{firebell}/boards/events",
            data=HOOK_SAMPLE.read_bytes(),
            headers={"X-Firebell-Secret": SECRET},
            timeout=30,
        )
        created = json.loads(HOOK_SAMPLE.read_bytes())
        created["eventType"] = "workitem.created"
        other = requests.post(
            f"{firebell}/boards/events", json=created, headers={"X-Firebell-Secret": SECRET}, timeout=30
        )
    active, of_parent = boards.hook_deliveries
    assert (active.status, active.answer["reason"]) == (
        202,
        f"work item {task.id} moved to 'Active', not a done state (Closed, Done)",
    )
    assert (of_parent.status, of_parent.answer) == (
        202,
        {"outcome": "ignored", "reason": f"work item {parent.id} is not a Firebell follow-up"},
    )
    assert (sample.status_code, sample.json()) == (
        202,
        {"outcome": "ignored", "reason": "work item 5 is not a Firebell follow-up"},
    )
    assert (other.status_code, other.json()) == (
        202,
        {"outcome": "ignored", "reason": "event type 'workitem.created' is not workitem.updated; nothing to do"},
    )
    assert (rows("timeline"), rows(FOLLOWUPS_TABLE)) == before


def forged() -> list[dict[str, str]]:
    return [
        {},
        {"Authorization": basic("azure-devops", "wrong")},
        {"Authorization": basic("azure-devops", SECRET + " ")},
        {"Authorization": "Basic %%%"},
        {"Authorization": f"Bearer {SECRET}"},
        {"X-Firebell-Secret": SECRET.upper()},
    ]


def test_forged_or_missing_credentials_get_401_and_nothing_is_stored(configured):
    boards = configured
    incident_id, task = follow_up_task(boards, "Add a retry budget due: in 3d")
    with running_firebell(background=False) as firebell:
        boards.subscribe(Subscription(f"{firebell}/boards/events", password="not-the-secret"))
        boards.change_state(task.id, "Closed")
        (delivered,) = boards.hook_deliveries
        before = (rows("timeline"), rows(FOLLOWUPS_TABLE))
        answers = [
            requests.post(f"{firebell}/boards/events", data=delivered.body, headers=headers, timeout=30)
            for headers in forged()
        ]
    assert delivered.status == 401 and delivered.answer["error"] == "unauthorized"
    assert [answer.status_code for answer in answers] == [401] * 6
    assert {answer.json()["error"] for answer in answers} == {"unauthorized"}
    assert all(SECRET not in answer.text for answer in answers)
    assert timeline(incident_id, FOLLOW_UP_DONE) == []
    assert (rows("timeline"), rows(FOLLOWUPS_TABLE)) == before


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "body is not valid JSON"),
        (b"[]", "body must be a JSON object, not list"),
        (b'{"resource": {}}', "eventType must be a non-empty string, got nothing"),
        (b'{"eventType": "workitem.updated", "resource": []}', "resource must be an object"),
        (
            b'{"eventType": "workitem.updated", "resource": {"workItemId": 0, "rev": 2}}',
            "resource.workItemId (or resource.revision.id) must name the work item",
        ),
        (
            b'{"eventType": "workitem.updated", "resource": {"workItemId": 7, "rev": 2, '
            b'"fields": {"System.State": "Closed"}}}',
            "resource.fields System.State must be {oldValue, newValue}",
        ),
        (
            b'{"eventType": "workitem.updated", "resource": {"workItemId": 7, "rev": 2}}',
            "the event has no time",
        ),
    ],
)
def test_malformed_events_get_400_and_nothing_is_stored(configured, body, detail):
    with running_firebell(background=False) as firebell:
        answer = requests.post(
            f"{firebell}/boards/events", data=body, headers={"X-Firebell-Secret": SECRET}, timeout=30
        )
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(detail)
    assert rows("timeline") == [] and rows(FOLLOWUPS_TABLE) == []


def test_without_the_secret_setting_the_route_is_not_configured(configured, monkeypatch):
    monkeypatch.setenv("BOARDS_SERVICE_HOOK_SECRET", "")
    with running_firebell(background=False) as firebell:
        answer = requests.post(
            f"{firebell}/boards/events", data=HOOK_SAMPLE.read_bytes(), headers={"X-Firebell-Secret": ""}, timeout=30
        )
    assert (answer.status_code, answer.json()["error"]) == (503, "not_configured")


# --- overdue: the owner is reminded ----------------------------------------------------------------------------------
class TableOps:
    """Every table request on the wire (azure-core's raw_request_hook): (method, table, point read or query)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, request: Any) -> None:
        path = unquote(urlsplit(request.http_request.url).path).split("/")[-1]
        table, _, key = path.partition("(")
        if table == "Tables":
            return
        self.seen.append((request.http_request.method, table, "row" if "PartitionKey=" in key else "table"))

    def take(self) -> list[tuple[str, str, str]]:
        taken, self.seen = self.seen, []
        return taken


def test_an_overdue_follow_up_reminds_its_owner_once_a_day_and_the_timer_reads_only_the_index(
    configured, monkeypatch, azurite
):
    boards = configured
    with WorkflowServer() as workflow:
        monkeypatch.setenv("TEAMS_WORKFLOW_URL", workflow.url)
        context.reset()
        incident_id, task = follow_up_task(boards, "Add a retry budget owner: Priya Raman due: today")
        due = utc_now().date()
        # Priya is in Sydney: first reminded at 09:00 there on the day after the due date.
        first = datetime.combine(due + timedelta(days=1), time(9), ZoneInfo("Australia/Sydney")).astimezone(UTC)
        ops = TableOps()
        account = StorageAccount(azurite.connection_string, on_request=ops)
        for name in ("followups", "escalations", "incidents", "timeline"):
            account.table(name)  # created once per process: not part of a tick
        notifier = Notifier(
            IncidentStore(account),
            EscalationLedger(account),
            fast_sender(),
            account,
            context.settings(),
            context.configuration(),
        )
        index = FollowUpIndex(account)

        def tick(at: datetime, instance: str = "instance-a") -> list[str]:
            ops.take()
            return remind_follow_ups(at, notifier, index, instance)

        lease = [("POST", "escalations", "table"), ("GET", "escalations", "row"), ("PUT", "escalations", "row")]
        assert tick(first - timedelta(seconds=1)) == []
        assert ops.take() == [
            ("POST", "escalations", "table"),  # the timer's lease, first taken
            ("GET", "followups", "table"),  # one range of the index; nothing else read
        ]
        (sent,) = tick(first + timedelta(minutes=1))
        assert sent.startswith(f"{incident_id} action-")
        assert ops.take() == [
            *lease,  # renewed by the same instance (insert refused, read, replace)
            ("GET", "followups", "table"),  # the overdue range
            ("GET", "escalations", "row"),  # today's card sent already?
            ("GET", "incidents", "row"),  # the one incident its card names: a point read
            ("GET", "escalations", "row"),  # send_once checks the ledger again before posting
            ("POST", "escalations", "table"),  # the card ledger row
            ("POST", "timeline", "table"),  # "reminded …"
        ]
        # Another instance's tick while the lease runs does nothing at all.
        assert tick(first + timedelta(minutes=2), instance="instance-b") == []
        assert ops.take() == lease[:2]
        assert tick(first + timedelta(hours=3)) == []  # the same day in Sydney: no second card
        assert ops.take() == [*lease, ("GET", "followups", "table"), ("GET", "escalations", "row")]
        assert len(tick(first + timedelta(days=1))) == 1  # the next day: reminded again
        (card, _) = [r.card for r in workflow.delivered()]
        assert card["body"][1]["text"] == (
            f"<at>Priya Raman</at>: your follow-up of {incident_id} was due {due.isoformat()} (1 day ago). Close its "
            "Boards task when it is done; Firebell reminds you daily until then."
        )
        assert card["msteams"]["entities"][0]["mentioned"] == {"id": PRIYA[1], "name": "Priya Raman"}
        assert card["actions"][-1]["url"] == f"{boards.org_url}/Firebell/_workitems/edit/{task.id}"
        assert [e.text for e in timeline(incident_id, REMINDER_SENT)] == [
            f"reminded Priya Raman: the follow-up “Add a retry budget” was due {due.isoformat()}"
        ] * 2

        # Done in Boards: no reminder after that.
        with running_firebell(background=False) as firebell:
            boards.subscribe(Subscription(f"{firebell}/boards/events", password=SECRET))
            boards.change_state(task.id, "Closed")
        assert tick(first + timedelta(days=2)) == []
        assert ops.take() == [*lease, ("GET", "followups", "table")]
        assert len(workflow.delivered()) == 2
