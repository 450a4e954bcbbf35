"""The operator CLI (`python -m devhost.ops`) against Azurite: the CLI as a real process with real settings, and
in-process for the rest; the queue consumers it hands work to are the real functions.

A poisoned change replays and is then handled once by the notifications function; a second replay moves nothing;
concurrent replays move each message once. The export writes every incident with its timeline in time order as
JSON lines. The Boards reconcile enqueues exactly the incidents that lack a work item, and the workitems function
(in a devhost process, against the Boards stand-in) then creates them.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.functions.queue import QueueMessage

from devhost.ops.cli import main
from devhost.ops.replay import replay_poison
from functions import context
from shared.azure_monitor.alert import parse_alert
from shared.chatops import intake as chatops_intake
from shared.chatops.grammar import parse_command
from shared.chatops.rules import Said
from shared.core import storage
from shared.core.queues import ESCALATIONS, NOTIFICATIONS, STATUSPAGE, WORKITEMS, poison
from shared.core.storage import StorageAccount
from shared.core.timeutil import utc_now
from shared.incidents.alert_intake import receive_alert
from shared.incidents.changes import TRACKER_KINDS, change_message
from shared.incidents.declaration import Declaration
from shared.incidents.declaration_intake import open_declared
from shared.incidents.incident import Incident
from shared.incidents.internal_view import incident_document
from shared.incidents.timeline import TimelineEvent, event_id
from shared.statuspage.web_store import WEB_CONTAINER
from shared.workitems.boards import WorkItemRef
from shared.workitems.ledger import LEDGER_TABLE, Ledger, lease_for
from shared.workitems.sync import INCIDENT_KEY
from tests.conftest import IDENTITY_CLIENT_ID, ROOT, sample_json, wait_until, write_config
from tests.integration.test_notifications import ESCALATIONS as ESCALATION_POLICIES
from tests.integration.test_notifications import ONCALL, PEOPLE, SERVICES, facts
from tests.integration.test_statuspage import page_of
from tests.standins.boards_server import BoardsServer
from tests.standins.entra_tokens import STORAGE_AUDIENCE, ManagedIdentityEndpoint, StorageTestCredential, TokenRequest
from tests.standins.workflow_server import WorkflowServer

NO_SETTINGS_FILE = ["--settings", os.devnull]  # the environment alone: what the test sets, nothing from the repo


def run(*arguments: str) -> tuple[int, str]:
    """The CLI in this process (settings from the environment the fixtures set); exit code and standard output."""
    out = io.StringIO()
    code = main([*NO_SETTINGS_FILE, *arguments], out=out)
    return code, out.getvalue()


def run_process(*arguments: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it: its own process, settings from its environment."""
    return subprocess.run(
        [sys.executable, "-m", "devhost.ops", *NO_SETTINGS_FILE, *arguments],
        cwd=ROOT,
        env=environment if environment is not None else dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )


def poisoned(account: StorageAccount, queue: str, body: str) -> None:
    """A change message sent as the functions send it, which then failed every delivery: the host copies its content
    as it is to `<queue>-poison` and deletes it (devhost/queues.py does the same)."""
    account.queue(queue).send_message(body)
    raw = account.queue(queue, encoding="none")
    (message,) = list(raw.receive_messages(max_messages=1))
    account.queue(poison(queue), encoding="none").send_message(message.content)
    raw.delete_message(message)


def waiting(account: StorageAccount, queue: str) -> int:
    return account.message_count(queue)


def summary(output: str) -> str:
    *_, last = output.strip().splitlines()
    assert last.startswith("firebell "), output
    return last.split(": ", 1)[1]


# --- replay-poison --------------------------------------------------------------------------------------------------
@pytest.fixture
def workflow() -> Iterator[WorkflowServer]:
    with WorkflowServer() as server:
        yield server


@pytest.fixture
def notifying(storage_account, workflow, tmp_path: Path, monkeypatch) -> StorageAccount:
    """Cards go to the Workflows stand-in; Tim Jones is the payments primary every day of the week."""
    folder = write_config(
        tmp_path,
        {
            "services.toml": SERVICES,
            "people.toml": PEOPLE,
            "oncall.toml": ONCALL,
            "escalations.toml": ESCALATION_POLICIES,
        },
    )
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(folder))
    monkeypatch.setenv("TEAMS_WORKFLOW_URL", workflow.url)
    context.reset()
    return storage_account


def deliver_one(account: StorageAccount, queue: str, function) -> None:
    """One delivery as the host makes it: receive, decode base64 (host.json), run the trigger, delete."""
    raw = account.queue(queue, encoding="none")
    (message,) = list(raw.receive_messages(max_messages=32))
    function(QueueMessage(id=message.id, body=base64.b64decode(message.content), dequeue_count=1))
    raw.delete_message(message)


def test_a_poisoned_change_replayed_by_the_cli_is_handled_once_and_a_second_replay_moves_nothing(notifying, workflow):
    from functions.notifications import on_change

    account = notifying
    alert = parse_alert(json.dumps(sample_json("59_test_action_metric_static_threshold.json")).encode())
    intake = receive_alert(alert, context.catalog(), context.incident_store(), utc_now())
    poisoned(account, NOTIFICATIONS, change_message(intake.incident_id, intake.event_ids))
    assert (waiting(account, poison(NOTIFICATIONS)), waiting(account, NOTIFICATIONS)) == (1, 0)

    replayed = run_process("replay-poison", "--all")
    assert (replayed.returncode, replayed.stderr) == (0, "")
    lines = replayed.stdout.splitlines()
    assert lines[:6] == [
        "statuspage-poison: 0 moved back to statuspage",
        "notifications-poison: 1 moved back to notifications",
        "workitems-poison: 0 moved back to workitems",
        "escalations-poison: 0 moved back to escalations",
        "readiness-poison: 0 moved back to readiness",
        "postmortems-poison: 0 moved back to postmortems",
    ]
    assert summary(replayed.stdout) == (
        "1 poison messages moved back to their queues (statuspage 0, notifications 1, workitems 0, escalations 0, "
        "readiness 0, postmortems 0, channels 0, contacts 0)"
    )
    assert lines[-1].startswith("firebell replay-poison on devstoreaccount1 (connection string) at 20")
    assert (waiting(account, poison(NOTIFICATIONS)), waiting(account, NOTIFICATIONS)) == (0, 1)

    deliver_one(account, NOTIFICATIONS, on_change)  # the real notifications function
    (card,) = workflow.delivered()
    assert facts(card.card)["Paged"] == "Tim Jones"  # the on-call primary, paged for the replayed opening
    assert waiting(account, NOTIFICATIONS) == 0
    assert waiting(account, STATUSPAGE) == waiting(account, WORKITEMS) == 1  # forwarded once, as always

    code, output = run("replay-poison", "--all")
    assert code == 0
    assert summary(output).startswith("0 poison messages moved back to their queues")
    assert waiting(account, NOTIFICATIONS) == 0
    assert len(workflow.delivered()) == 1


def test_a_dry_run_counts_what_waits_and_moves_nothing(storage_account):
    for number in (1, 2):
        poisoned(storage_account, WORKITEMS, change_message(f"INC-{number}", ["e1"]))
    code, output = run("replay-poison", "workitems", "--dry-run")
    assert code == 0
    assert output.splitlines()[0] == "workitems-poison: 2 waiting, would be moved back to workitems"
    assert summary(output) == "2 poison messages waiting (workitems 2); dry run, nothing moved"
    assert (waiting(storage_account, poison(WORKITEMS)), waiting(storage_account, WORKITEMS)) == (2, 0)


def test_two_concurrent_replays_move_every_message_exactly_once_with_its_content_unchanged(storage_account):
    bodies = {change_message(f"INC-{number}", [f"e{number}"]) for number in range(1, 51)}
    sender = storage_account.queue(poison(STATUSPAGE))  # base64, as the host wrote them
    for body in bodies:
        sender.send_message(body)
    results = []
    start = threading.Barrier(2)

    def replay() -> None:
        start.wait()
        results.append(replay_poison(storage_account, STATUSPAGE))

    threads = [threading.Thread(target=replay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result.moved for result in results) == 50
    assert sum(result.copied_twice for result in results) == 0
    assert waiting(storage_account, poison(STATUSPAGE)) == 0
    queue = storage_account.queue(STATUSPAGE)
    received = [m.content for m in queue.receive_messages(max_messages=32, visibility_timeout=60)]
    received += [m.content for m in queue.receive_messages(max_messages=32, visibility_timeout=60)]
    assert sorted(received) == sorted(bodies)


def test_an_unknown_queue_or_a_missing_storage_setting_is_one_line_and_exit_2(storage_account, monkeypatch, capsys):
    assert run("replay-poison", "payments") == (2, "")
    assert capsys.readouterr().err == (
        "python -m devhost.ops: unknown queue 'payments'; Firebell's queues are statuspage, notifications, "
        "workitems, escalations, readiness, postmortems, channels, contacts\n"
    )
    assert run("replay-poison") == (2, "")
    assert capsys.readouterr().err == "python -m devhost.ops: name a QUEUE or give --all\n"

    environment = {name: value for name, value in os.environ.items() if not name.startswith("AzureWebJobsStorage")}
    finished = run_process("replay-poison", "--all", environment=environment)
    assert (finished.returncode, finished.stdout) == (2, "")
    (line,) = finished.stderr.splitlines()
    assert line.startswith("python -m devhost.ops: storage: AzureWebJobsStorage is not set.")


def test_the_cli_runs_on_identity_based_settings_with_a_token_not_a_connection_string(
    identity_storage, azurite_certificate
):
    """The settings a deployment has (service URIs, an identity, no connection string); the token comes from the
    managed-identity endpoint azure-identity asks, as it would from `az login` for DefaultAzureCredential."""
    account = storage_account_of_settings()
    poisoned(account, ESCALATIONS, json.dumps({"incident": "INC-1", "step": 1}))
    with ManagedIdentityEndpoint() as endpoint:
        environment = {
            **{name: value for name, value in os.environ.items() if not name.startswith("AzureWebJobsStorage")},
            **identity_storage,
            **endpoint.environment(),
            "REQUESTS_CA_BUNDLE": str(azurite_certificate.ca_bundle),
        }
        refused = run_process("replay-poison", "escalations", environment={**environment, "IDENTITY_HEADER": "x"})
        assert (refused.returncode, refused.stdout) == (2, "")
        (line,) = refused.stderr.splitlines()
        assert line.startswith("python -m devhost.ops: storage refused the credentials (")
        assert line.endswith("as someone with the Storage Queue, Table and Blob Data Contributor roles on the account")
        assert waiting(account, poison(ESCALATIONS)) == 1

        replayed = run_process("replay-poison", "escalations", environment=environment)
        assert (replayed.returncode, replayed.stderr) == (0, "")
        assert set(endpoint.requests()) == {TokenRequest(STORAGE_AUDIENCE, IDENTITY_CLIENT_ID)}
    assert replayed.stdout.splitlines()[0] == "escalations-poison: 1 moved back to escalations"
    assert " (Entra ID) at " in replayed.stdout.splitlines()[-1]
    assert (waiting(account, poison(ESCALATIONS)), waiting(account, ESCALATIONS)) == (0, 1)


def storage_account_of_settings() -> StorageAccount:
    """The test's own way in to the identity Azurite (its token credential), for setting up and checking."""
    return StorageAccount(storage.target(), credential=StorageTestCredential())


# --- render-site ----------------------------------------------------------------------------------------------------
def test_render_site_publishes_the_status_site_now_and_renders_only_what_is_behind(storage_account):
    declare(1, DECEMBER)  # a SEV1: public at once
    code, output = run("render-site")
    assert code == 0
    text = summary(output)
    assert text.startswith("status site “Acme Status” re-rendered and published to the $web container: ")
    assert text.endswith("0 already current; state version 1")
    container = storage_account.container(WEB_CONTAINER)
    index = container.get_blob_client("index.html")
    assert "Checkout" in index.download_blob().readall().decode()
    page = container.get_blob_client(page_of("INC-1")).get_blob_properties()
    first_index = index.get_blob_properties().metadata["read_at"]

    code, output = run("render-site")
    assert code == 0
    assert summary(output).endswith("state version 2")  # the next state of the site, claimed by this render
    assert container.get_blob_client(page_of("INC-1")).get_blob_properties().etag == page.etag  # not behind
    assert index.get_blob_properties().metadata["read_at"] > first_index  # the index is rendered every time


# --- export-incidents -----------------------------------------------------------------------------------------------
DECEMBER = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def declare(severity: int, at: datetime, title: str = "Card payments fail") -> Incident:
    declaration = Declaration(
        title=title,
        severity=severity,
        reporter="Ana Souza",
        service="checkout",
        components=("Checkout",),
        source="customer",
        description="Card payments time out",
        customer_impact="Checkout fails for some customers",
        detected_at=None,
    )
    return open_declared(declaration, None, context.incident_store(), context.catalog(), at).incident


def chat(text: str) -> list[TimelineEvent]:
    said = Said(text=text, speaker="Tim Jones", at=utc_now(), message_id=uuid.uuid4().hex)
    decision = chatops_intake.handle(parse_command(text), said, context.incident_store(), context.catalog(), "")
    assert decision.events, decision.reply
    return list(decision.events)


def note(incident: Incident, row_at: datetime, at: datetime, text: str) -> None:
    """A consumer's note whose row sorts by one time (its id's anchor) and that happened at another."""
    context.incident_store().append_event(
        TimelineEvent(incident.id, event_id(row_at, "ops-test"), "note", at, at, "Firebell", "ops-test", text)
    )


def test_export_writes_each_incident_with_its_timeline_in_time_order_as_json_lines(storage_account, tmp_path):
    first = declare(1, DECEMBER - timedelta(days=20))  # INC-1, in November
    second = declare(2, DECEMBER)
    third = declare(3, DECEMBER + timedelta(days=2))
    chat("resolve INC-2 rolled back the deploy")
    # Row order is not time order: a note anchored just after the opening that happened an hour later.
    note(second, DECEMBER + timedelta(milliseconds=1), DECEMBER + timedelta(hours=1), "late note")
    note(second, DECEMBER + timedelta(minutes=5), DECEMBER + timedelta(minutes=5), "early note")
    target = tmp_path / "incidents.jsonl"

    code, output = run("export-incidents", "-o", str(target))
    assert code == 0
    assert summary(output).startswith("3 incidents with ")
    assert summary(output).endswith(f"timeline events exported as JSON lines to {target}")
    text = target.read_text(encoding="utf-8")
    assert text.endswith("\n")
    documents = [json.loads(line) for line in text.splitlines()]
    store, catalog = context.incident_store(), context.catalog()
    assert sorted(document["id"] for document in documents) == ["INC-1", "INC-2", "INC-3"]
    for document in documents:
        incident = store.get_incident(document["id"])
        assert incident is not None
        timeline = sorted(store.timeline(incident.id), key=lambda event: (event.at, event.recorded_at))
        assert document == incident_document(incident, catalog.service(incident.service), timeline)
    (exported,) = [document for document in documents if document["id"] == "INC-2"]
    notes = ["late note", "early note"]
    assert [event.text for event in store.timeline("INC-2") if event.text in notes] == notes  # as the rows sort
    assert [event["text"] for event in exported["timeline"] if event["text"] in notes] == ["early note", "late note"]
    assert exported["status"] == "resolved"
    assert f"{sum(len(d['timeline']) for d in documents)} timeline events" in summary(output)
    assert not (tmp_path / "incidents.jsonl.partial").exists()

    code, output = run("export-incidents", "--status", "open", "--since", "2026-12-01")
    assert code == 0
    assert [json.loads(line)["id"] for line in output.splitlines()] == [third.id]  # INC-2 resolved, INC-1 earlier
    code, output = run("export-incidents", "--status", "resolved")
    assert [json.loads(line)["id"] for line in output.splitlines()] == ["INC-2"]
    assert first.id == "INC-1"


def test_export_refuses_a_bad_filter_and_writes_no_file(storage_account, tmp_path, capsys):
    target = tmp_path / "out.jsonl"
    assert run("export-incidents", "--status", "sleeping", "-o", str(target)) == (2, "")
    assert "status 'sleeping' is unknown" in capsys.readouterr().err
    assert run("export-incidents", "--since", "last tuesday", "-o", str(target)) == (2, "")
    assert capsys.readouterr().err == (
        "python -m devhost.ops: --since 'last tuesday' is not a date (2026-12-01) or an ISO 8601 instant\n"
    )
    assert list(tmp_path.iterdir()) == []


# --- boards-reconcile -----------------------------------------------------------------------------------------------
def settle_pages() -> None:
    """The incidents were paged long ago: the sweeper has nothing to announce (only the reconcile enqueues here)."""
    store = context.incident_store()
    for page in store.pages_due():
        store.page_started(page)


def set_work_item(incident_id: str, work_item_id: int) -> None:
    store = context.incident_store()
    stored = store.load_incident(incident_id)
    assert stored is not None
    url = f"https://dev.azure.com/acme/Firebell/_workitems/edit/{work_item_id}"
    recorded = stored.incident.changed(utc_now(), work_item_id=work_item_id, work_item_url=url)
    store.save_incident(recorded, stored.etag, was_open=stored.incident.is_open)


def tracker_message(incident_id: str) -> dict:
    events = [e for e in context.incident_store().timeline(incident_id) if e.kind in TRACKER_KINDS]
    return json.loads(change_message(incident_id, [e.event_id for e in events], [e.kind for e in events]))


@pytest.fixture
def missing_items(storage_account) -> Ledger:
    """INC-1 SEV1, resolved, no work item; INC-2 SEV2 with its item; INC-3 SEV3 (below the threshold); INC-4 SEV2
    whose item Boards made and the ledger holds, but the incident never recorded; INC-5 SEV2 whose item a delivery
    is creating right now (a live claim)."""
    declare(1, DECEMBER, "Checkout down")
    declare(2, DECEMBER, "Refunds slow")
    declare(3, DECEMBER, "Build agents slow")
    declare(2, DECEMBER, "Card declines")
    declare(2, DECEMBER, "Login errors")
    chat("resolve INC-1 failed over to the second region")
    set_work_item("INC-2", 41)
    ledger = Ledger(storage_account.table(LEDGER_TABLE), lease_for(context.configuration().boards().http))
    now = utc_now()
    claim = ledger.claim("INC-4", INCIDENT_KEY, now)
    ledger.complete("INC-4", claim, WorkItemRef(44, "https://dev.azure.com/acme/Firebell/_workitems/edit/44"), now)
    ledger.claim("INC-5", INCIDENT_KEY, now)
    settle_pages()
    return ledger


def test_boards_reconcile_enqueues_exactly_the_incidents_without_a_work_item(missing_items, storage_account):
    code, output = run("boards-reconcile", "--dry-run")
    assert code == 0
    assert output.splitlines()[:3] == [
        "INC-1 [SEV1, resolved] Checkout down: no work item; would enqueue its change on workitems",
        "INC-4 [SEV2, triggered] Card declines: work item in the Boards ledger but not on the incident; would "
        "enqueue its change on workitems",
        "INC-5 [SEV2, triggered] Login errors: a delivery is creating its work item now; left alone",
    ]
    assert summary(output) == (
        "5 incidents checked; 2 at or above SEV2 without a work item would be enqueued (dry run, nothing enqueued): "
        "INC-1, INC-4; 1 left alone: INC-5"
    )
    assert waiting(storage_account, WORKITEMS) == 0

    code, output = run("boards-reconcile")
    assert code == 0
    assert summary(output) == (
        "5 incidents checked; 2 at or above SEV2 without a work item enqueued on workitems: INC-1, INC-4; "
        "1 left alone: INC-5"
    )
    queue = storage_account.queue(WORKITEMS)
    messages = {}
    for message in queue.receive_messages(max_messages=32):
        document = json.loads(message.content)
        messages[document["incident"]] = document
    assert messages == {"INC-1": tracker_message("INC-1"), "INC-4": tracker_message("INC-4")}
    # The resolution travels too, so the consumer moves the new item to Resolved and comments, not just creates it.
    assert messages["INC-1"]["kinds"] == ["incident.declared", "status.changed"]


def test_the_workitems_function_then_creates_the_missing_item_and_a_second_reconcile_finds_nothing(
    missing_items, storage_account, tmp_path, monkeypatch
):
    """The consumer runs in a devhost process of its own (the Azure DevOps SDK loads there, as in Azure), against
    the Boards stand-in; the reconcile runs as a process too, with the settings an operator has."""
    config = tmp_path / "config"
    config.mkdir()
    for name in ("services.toml", "people.toml"):
        (config / name).write_text((ROOT / "config" / name).read_text(encoding="utf-8"), encoding="utf-8")
    (config / "boards.toml").write_text("[http]\ntimeout_seconds = 3\nattempts = 2\n", encoding="utf-8")
    environment = {**os.environ, "FIREBELL_CONFIG_DIR": str(config)}
    assert run_process("boards-reconcile", environment=environment).returncode == 0
    with BoardsServer() as boards:
        consumer_environment = {
            **environment,
            "AZURE_DEVOPS_ORG_URL": boards.org_url,
            "AZURE_DEVOPS_PROJECT": boards.project,
            "AZURE_DEVOPS_PAT": boards.pat,
            "AZURE_DEVOPS_CACHE_DIR": str(tmp_path / "azure-devops-cache"),
        }
        consumer = subprocess.Popen(
            [sys.executable, "-m", "devhost", "--background-only", *NO_SETTINGS_FILE],
            cwd=ROOT,
            env=consumer_environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            store = context.incident_store()
            wait_until(lambda: all(store.get_incident(i).work_item_id for i in ("INC-1", "INC-4")), timeout=60)
            wait_until(lambda: waiting(storage_account, WORKITEMS) == 0)
        finally:
            consumer.terminate()
            consumer.wait(timeout=30)
        (item,) = boards.work_items()  # INC-4's item existed already: recorded from the ledger, not made again
    assert item.fields["System.Title"] == "INC-1 [SEV1] Checkout down"
    assert item.fields["System.State"] == "Resolved"
    assert store.get_incident("INC-1").work_item_id == item.id
    assert store.get_incident("INC-4").work_item_id == 44
    assert store.get_incident("INC-5").work_item_id is None  # its claim is someone else's

    again = run_process("boards-reconcile", environment=environment)
    assert again.returncode == 0
    assert summary(again.stdout) == (
        "5 incidents checked; 0 at or above SEV2 without a work item enqueued on workitems; 1 left alone: INC-5"
    )
    assert waiting(storage_account, WORKITEMS) == 0
