"""Many instances, one truth: what must hold across Azure instances holds across devhost processes over one Azurite.

Two HTTP and two background processes (`python -m devhost --instances 2`) number concurrent declarations without a
gap or a repeat and publish a status page that never goes backwards; two OS processes sending to one Workflows
webhook share its budget of 4 requests a second; a 429 seen by one instance pauses the other; a timer fires on
one instance per tick (the host's singleton, emulated by the devhost); the reminders pass runs once when two
instances tick at the same moment (the app's own lease).
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.functions.timer import TimerRequest

from devhost.catalog import FunctionSpec
from devhost.invoker import Invoker
from devhost.process import DevhostProcess
from devhost.timers import LOCKS, TimerLock, TimerRunner, lock_name
from functions import context
from shared.core.storage import StorageAccount
from shared.incidents.store import IncidentStore
from shared.notifications.cards import encode
from shared.notifications.escalate import remind_once
from shared.statuspage.public_view import is_published
from shared.statuspage.publisher import SitePublisher
from shared.statuspage.record_store import read_record
from shared.statuspage.web_store import WEB_CONTAINER
from shared.teams.budget import WEBHOOK_BUDGETS, WebhookBudget, budget_key
from shared.teams.workflow import WorkflowSender
from tests.conftest import ROOT, wait_until
from tests.integration import test_notifications as base
from tests.integration.test_notifications import WEDNESDAY, facts, notifier, open_incident, paged_card_message, say
from tests.integration.test_statuspage import declare as declare_incident
from tests.integration.test_statuspage import post_update

# The fixtures this module shares with the notifications tests.
config_dir, workflow, notifying = base.config_dir, base.workflow, base.notifying

KEY = "instances-test-key"
DECLARATIONS = 20


def declare(url: str, number: int) -> tuple[int, str]:
    body = {"title": f"Checkout fails ({number})", "severity": 1, "reporter": "Dana (support desk)"}
    answer = requests.post(
        f"{url}/api/incidents", json={**body, "service": "checkout"}, headers={"x-functions-key": KEY}, timeout=30
    )
    return answer.status_code, answer.json().get("id", "")


def invocations(log: str, instance: str, function: str) -> int:
    return len(re.findall(rf"devhost\[{instance}\] INFO function={function} ", log))


def published_version(account: StorageAccount) -> int:
    blob = account.container(WEB_CONTAINER).get_blob_client("index.html")
    try:
        return int(blob.get_blob_properties().metadata["state_version"])
    except ResourceNotFoundError:  # not published yet
        return 0


def test_two_http_and_two_background_instances_number_incidents_once_each_and_never_publish_backwards(
    azurite, storage_account, workflow
):
    environment = {
        "FIREBELL_FUNCTION_KEY": KEY,
        "FIREBELL_CONFIG_DIR": str(ROOT / "config"),
        "TEAMS_WORKFLOW_URL": workflow.url,
    }
    seen: list[int] = []
    watching = threading.Event()

    def watch() -> None:  # what a visitor would see of the index, polled through the whole run
        while not watching.is_set():
            seen.append(published_version(storage_account))
            time.sleep(0.05)

    devhost = DevhostProcess(azurite.connection_string, environment, instances=2).start(timeout=60)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(lambda number: declare(devhost.url, number), range(DECLARATIONS)))
        store = IncidentStore(storage_account)
        # Every declaration's state is what the site must come to show: each public incident at least at the
        # version it had once declared, in a published state of the site's record, which the index shows.
        catalog = context.site_settings().catalog
        declared = {i.id: i.version for i in store.list_incidents() if is_published(i, catalog)}
        assert len(declared) == DECLARATIONS  # a SEV1 of a public service is public at once

        last: dict[str, object] = {}

        def settled() -> bool:
            record, _etag = read_record(storage_account)
            shown = {k.ident: k.version for k in record.incidents} if record and record.published else {}
            behind = sorted(ident for ident, version in declared.items() if shown.get(ident, 0) < version)
            last.update(published=published_version(storage_account), behind=behind, cards=len(workflow.delivered()))
            state = record.state if record is not None else -1
            return not behind and last["published"] == state and last["cards"] >= DECLARATIONS

        try:
            wait_until(settled, timeout=60)
        except AssertionError as unsettled:
            raise AssertionError(f"{unsettled}: {last}") from None
    finally:
        watching.set()
        watcher.join()
        seen.append(published_version(storage_account))  # the watcher's last look may predate the settling one
        log = devhost.stop()

    assert [status for status, _ in answers] == [201] * DECLARATIONS
    assert sorted(ident for _, ident in answers) == sorted(f"INC-{n}" for n in range(1, DECLARATIONS + 1))
    # The kernel handed the connections to both HTTP processes (which background process takes which message is
    # up to their polling: test_two_publishers_… below makes two publishers race for certain).
    served = [invocations(log, instance, "declare_incident") for instance in ("http-1", "http-2")]
    assert sum(served) == DECLARATIONS and min(served) > 0
    # The site only ever moved forwards, to every declaration's state at least, whichever instance rendered.
    assert seen == sorted(seen) and seen[-1] >= last["published"]  # type: ignore[operator]
    # One first page per incident, from either instance, within the webhook's budget across both.
    paged = Counter(facts(card.card)["Incident"] for card in workflow.delivered())
    assert sorted(paged) == sorted(f"INC-{n}" for n in range(1, DECLARATIONS + 1))
    arrivals = sorted(request.arrived for request in workflow.requests())
    assert max(sum(1 for t in arrivals if begin <= t < begin + 0.75) for begin in arrivals) <= 4


SENDER = """
import sys, time
from pathlib import Path
from shared.core.storage import StorageAccount
from shared.teams.budget import WebhookBudget
from shared.teams.workflow import WorkflowSender
connection, url, folder, start_at = sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])
account = StorageAccount(connection)
sender = WorkflowSender(WebhookBudget(lambda: account), attempts=1)
bodies = [path.read_bytes() for path in sorted(folder.iterdir())]
time.sleep(max(0.0, start_at - time.time()))
for body in bodies:  # one after the other: nothing for this process to coalesce
    sender.post(url, body)
"""


def test_two_processes_sending_to_one_webhook_share_its_four_requests_a_second(
    azurite, storage_account, workflow, tmp_path
):
    folders = []
    for process in ("a", "b"):
        folder = tmp_path / process
        folder.mkdir()
        for number in range(6):
            (folder / f"{number:02}.json").write_bytes(encode(paged_card_message(f"INC-{process}{number}")))
        folders.append(folder)
    start_at = time.time() + 2.0  # both interpreters are up by then
    senders = [
        subprocess.Popen(
            [sys.executable, "-c", SENDER, azurite.connection_string, workflow.url, str(folder), str(start_at)],
            cwd=ROOT,
        )
        for folder in folders
    ]
    assert [sender.wait(timeout=60) for sender in senders] == [0, 0]

    requests_ = workflow.requests()
    assert len(requests_) == 12 and all(request.status == 202 for request in requests_)
    arrivals = sorted(request.arrived for request in requests_)
    # Each process alone would start 4 in its first 1.05 s: 8 together. Shared, 12 requests need three windows.
    assert max(sum(1 for t in arrivals if begin <= t < begin + 0.75) for begin in arrivals) <= 4
    assert arrivals[-1] - arrivals[0] >= 2 * 1.05 - 0.3


def test_a_429_seen_by_one_instance_pauses_the_other(storage_account, workflow):
    # Two budgets that share nothing but storage: two instances.
    first = WorkflowSender(WebhookBudget(lambda: storage_account), attempts=2)
    second = WorkflowSender(WebhookBudget(lambda: storage_account), attempts=1)
    workflow.fail_next(429, retry_after="2")
    thread = threading.Thread(target=first.post, args=(workflow.url, encode(paged_card_message("INC-1"))))
    thread.start()
    table = storage_account.table(WEBHOOK_BUDGETS)
    key = budget_key(workflow.url)
    # The other instance starts once the first has recorded the 429 (before that, nobody could know of it).
    wait_until(lambda: any(row["held_until"] > 0 for row in table.query_entities(f"RowKey eq '{key}'")))
    second.post(workflow.url, encode(paged_card_message("INC-2")))
    thread.join(10)

    throttled, *after = workflow.requests()
    assert throttled.status == 429 and [request.status for request in after] == [202, 202]
    assert all(request.arrived >= throttled.arrived + 1.9 for request in after)


def test_a_timer_fires_on_one_instance_per_tick_and_another_takes_over_when_it_stops(storage_account):
    fired: list[tuple[str, int]] = []

    def runner(instance: str) -> tuple[TimerRunner, threading.Event]:
        def tick(timer: TimerRequest) -> None:
            fired.append((instance, int(time.time())))

        spec = FunctionSpec("tick", tick, {"type": "timerTrigger", "name": "timer", "schedule": "* * * * * *"})
        lock = TimerLock(storage_account.container(LOCKS).get_blob_client(lock_name("tick")))
        stopping = threading.Event()
        return TimerRunner(spec, Invoker("base64"), stopping, lock), stopping

    (one, stop_one), (two, stop_two) = runner("one"), runner("two")
    one.start()
    two.start()
    wait_until(lambda: len(fired) >= 3)
    stop_one.set()
    one.join()  # lets its lock go, as the host does on shutdown
    stop_two.set()
    two.join()
    assert len({second for _, second in fired}) == len(fired)  # one firing per tick, never two
    holder = fired[0][0]
    assert all(instance == holder for instance, _ in fired[:3])  # the holder keeps the lock from tick to tick

    fired.clear()
    survivor, stop_survivor = runner("three")
    survivor.start()
    wait_until(lambda: len(fired) >= 1, timeout=5)  # the lock was let go: the next tick is the survivor's
    stop_survivor.set()
    survivor.join()
    assert fired[0][0] == "three"


def test_the_reminders_pass_of_two_instances_ticking_at_once_reminds_once(notifying, storage_account, workflow):
    open_incident(notifying)
    say(notifying, "role INC-1 commander Larry Brown", minute=1)
    say(notifying, "update INC-1 investigating We are looking into it. Next update in 30 min", minute=3)
    now = WEDNESDAY + timedelta(minutes=35)
    start = threading.Barrier(2)
    outcomes: dict[str, list[str]] = {}

    def tick(instance: str) -> None:
        start.wait()
        outcomes[instance] = remind_once(now, notifier(), instance)

    threads = [threading.Thread(target=tick, args=(instance,)) for instance in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == [[], ["INC-1 reminder"]]
    assert len(workflow.delivered()) == 1
    # The lease runs out before the next tick, which any instance may take.
    later = WEDNESDAY + timedelta(minutes=36)
    loser = next(instance for instance, outcome in outcomes.items() if outcome == [])
    assert remind_once(later, notifier(), loser) == []  # taken; nothing left to remind
    assert notifier().ledger.take_lease("reminders", "c", later, timedelta(seconds=1)) is False


def test_two_publishers_racing_while_an_incident_changes_never_publish_backwards(storage_account):
    store = IncidentStore(storage_account)
    incident = declare_incident(store, severity=1)  # public at once
    changing = threading.Event()
    seen: list[int] = []
    written: dict[str, int] = {"a": 0, "b": 0}

    def change() -> None:
        for number in range(12):
            post_update(store, incident.id, f"Update {number}: we are on it.")
            time.sleep(0.1)
        changing.set()

    def publish(name: str) -> None:  # an instance's publisher, rendering again and again as messages would make it
        publisher = SitePublisher(storage_account, context.site_settings)
        while True:
            done = changing.is_set()
            written[name] += bool(publisher.render_and_publish().written)
            seen.append(published_version(storage_account))
            if done:
                return

    threads = [threading.Thread(target=change)] + [threading.Thread(target=publish, args=(n,)) for n in written]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    record, _etag = read_record(storage_account)
    assert seen == sorted(seen)  # each publisher's reads, in the order they happened: never a step back
    # The last state claimed is the one published, and it shows the incident as the last update left it.
    assert record is not None and record.published and published_version(storage_account) == record.state
    assert {k.ident: k.version for k in record.incidents} == {incident.id: 13}  # declared (1) and 12 updates
    index = storage_account.container(WEB_CONTAINER).download_blob("index.html").readall().decode()
    assert "Update 11: we are on it." in index
    assert written["a"] > 0 and written["b"] > 0  # both published: a real race, not one publisher doing it all
