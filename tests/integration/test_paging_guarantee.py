"""The page always goes out: whatever order alerts arrive in, whatever message is lost, whichever storage write
fails, every incident that exists ends up paged exactly once.

Faults are real: a proxy in front of Azurite fails the k-th write of a delivery (and every write after it, so the
fault outlasts the storage SDK's own retries) with 503 Server Busy, then heals for the caller's retry, as Azure
Monitor retries a 503. Lost queue messages are messages never handed to the consumer; the sweeper runs on a clock
the test moves.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from azure.core.exceptions import AzureError

from functions import context
from shared.azure_monitor.alert import parse_alert
from shared.core.errors import StorageUnavailable
from shared.core.storage import StorageAccount
from shared.incidents.alert_intake import AlertIntake, receive_alert
from shared.incidents.changes import ChangeMessage
from shared.incidents.store import IncidentStore
from shared.incidents.timeline import ALERT_FIRED, ESCALATION_PAGED, ESCALATION_SWEPT, STATUS_CHANGED
from shared.notifications.ledger import CLAIM_HOLD, Claim
from shared.notifications.notify import notify, on_change
from shared.notifications.policy import FIRST
from shared.notifications.sweep import PAGE_BOUND, sweep
from tests.integration import test_notifications as base
from tests.integration.test_notifications import WEDNESDAY, alert, facts, notifier, open_incident
from tests.standins.faulty_storage import FaultyAccount

# The fixtures this module shares with the notifications tests.
config_dir, workflow, notifying = base.config_dir, base.workflow, base.notifying
AZURE_MONITOR_RETRIES = 5  # an action group retries a 503 up to five times


def paged(store: IncidentStore, ident: str) -> list[str]:
    return [event.text for event in store.timeline(ident) if event.kind == ESCALATION_PAGED]


def fired_at(alert_id: str, when: str) -> bytes:
    document = json.loads(alert(alert_id))
    document["data"]["essentials"]["firedDateTime"] = when
    return json.dumps(document).encode()


def consume(store: IncidentStore, intake: AlertIntake, delivery: int = 1) -> None:
    """What the notifications consumer does with the message the alerts function sends for this intake."""
    if intake.incident_id and intake.event_ids and intake.changed_incident:
        notify(ChangeMessage(intake.incident_id, intake.event_ids), delivery, WEDNESDAY, notifier())


# --- out of order ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("consumed", ["in order", "reversed"])
def test_a_second_alert_that_fired_earlier_still_leaves_exactly_one_page(notifying, workflow, consumed):
    catalog = context.catalog()
    first = receive_alert(parse_alert(fired_at("alert-1", "2026-12-02T09:58:00Z")), catalog, notifying, WEDNESDAY)
    earlier = receive_alert(parse_alert(fired_at("alert-2", "2026-12-02T09:57:51Z")), catalog, notifying, WEDNESDAY)
    assert (first.outcome, earlier.outcome, earlier.incident_id) == ("opened", "joined", "INC-1")
    # The earlier signal takes the timeline's first place: the page must not depend on which event is first.
    assert notifying.timeline("INC-1")[0].event_id in earlier.event_ids
    for intake in [first, earlier] if consumed == "in order" else [earlier, first]:
        consume(notifying, intake)
    assert [facts(r.card)["Paged"] for r in workflow.delivered()] == ["Tim Jones"]
    assert paged(notifying, "INC-1") == ["paged Tim Jones (payments primary, step 1 of 3, round 1 of 2)"]
    assert notifying.pages_due() == []


# --- lost messages: the sweeper -------------------------------------------------------------------------------------


def test_an_incident_whose_announcement_was_lost_is_paged_by_the_sweeper_once(notifying, workflow):
    ident, _ = open_incident(notifying)  # the message to notifications never arrives
    assert sweep(WEDNESDAY + PAGE_BOUND - timedelta(seconds=1), notifier(), "instance-a") == []  # not late yet
    assert workflow.delivered() == []
    assert sweep(WEDNESDAY + PAGE_BOUND + timedelta(seconds=1), notifier(), "instance-a") == ["INC-1-opening"]
    assert [facts(r.card)["Paged"] for r in workflow.delivered()] == ["Tim Jones"]
    assert sorted(event.kind for event in notifying.timeline(ident)) == [
        ALERT_FIRED,
        ESCALATION_PAGED,
        ESCALATION_SWEPT,
    ]
    (note,) = [event.text for event in notifying.timeline(ident) if event.kind == ESCALATION_SWEPT]
    assert note == "paging started by the sweeper: nobody was being paged 31 s after the page was due"
    assert notifying.pages_due() == []
    assert sweep(WEDNESDAY + timedelta(minutes=2), notifier(), "instance-a") == []
    assert len(workflow.delivered()) == 1


def test_a_page_the_notifications_consumer_started_is_left_alone(notifying, workflow):
    ident, opened = open_incident(notifying)
    notify(ChangeMessage(ident, opened), 1, WEDNESDAY, notifier(), message_id="m-1")
    assert notifying.pages_due() == []
    assert sweep(WEDNESDAY + timedelta(minutes=5), notifier(), "instance-a") == []
    assert len(workflow.delivered()) == 1
    assert ESCALATION_SWEPT not in [event.kind for event in notifying.timeline(ident)]


def test_the_message_arriving_after_the_sweeper_paged_does_not_page_again(notifying, workflow):
    ident, opened = open_incident(notifying)
    sweep(WEDNESDAY + timedelta(minutes=1), notifier(), "instance-a")
    notify(ChangeMessage(ident, opened), 1, WEDNESDAY + timedelta(minutes=1), notifier(), message_id="late")
    assert len(workflow.delivered()) == 1


def test_a_consumer_killed_after_claiming_the_first_step_holds_the_page_only_briefly(notifying, workflow):
    ident, opened = open_incident(notifying)
    # The notifications consumer claimed step 1 for its message, then its host was killed (kill -9): that message
    # comes back only when the queue's visibility lease runs out, minutes later (10 in Azure).
    assert notifier().ledger.claim_step(ident, FIRST, "m-killed", WEDNESDAY) == Claim.NEW
    assert sweep(WEDNESDAY + CLAIM_HOLD - timedelta(seconds=1), notifier(), "instance-a") == []  # still held
    assert workflow.delivered() == []
    assert sweep(WEDNESDAY + CLAIM_HOLD + timedelta(seconds=1), notifier(), "instance-a") == ["INC-1-opening"]
    assert [facts(r.card)["Paged"] for r in workflow.delivered()] == ["Tim Jones"]
    # The killed delivery's message comes back at last: the step is settled, nobody is paged twice.
    notify(ChangeMessage(ident, opened), 2, WEDNESDAY + timedelta(minutes=5), notifier(), message_id="m-killed")
    assert len(workflow.delivered()) == 1
    assert paged(notifying, ident) == ["paged Tim Jones (payments primary, step 1 of 3, round 1 of 2)"]


def test_a_page_deferred_through_a_workflows_outage_is_held_for_its_message_not_swept(notifying, workflow):
    from shared.incidents.changes import change_message

    ident, opened = open_incident(notifying)
    workflow.down()
    body = change_message(ident, opened, [ALERT_FIRED]).encode()
    deferred = on_change(body, "m-1", 1, WEDNESDAY, notifier())
    pause = deferred.next_visible_on - deferred.inserted_on
    assert pause == timedelta(seconds=10)  # the first deferral's pause (shared.core.deferral)
    # Held through the pause and a delivery's hold after it: the deferred message carries on, not the sweeper.
    held_until = WEDNESDAY + pause + CLAIM_HOLD
    assert sweep(held_until - timedelta(seconds=1), notifier(), "instance-a") == []
    assert ESCALATION_SWEPT not in [event.kind for event in notifying.timeline(ident)]
    # Had the deferred message been lost, the sweeper takes the page over once the hold has run out.
    workflow.up()
    assert sweep(held_until + timedelta(seconds=1), notifier(), "instance-a") == ["INC-1-opening"]
    assert [facts(r.card)["Paged"] for r in workflow.delivered()] == ["Tim Jones"]


def test_only_one_instance_sweeps_at_a_time(notifying, workflow):
    open_incident(notifying)
    late = WEDNESDAY + timedelta(minutes=1)
    assert sweep(late, notifier(), "instance-a") == ["INC-1-opening"]
    assert sweep(late, notifier(), "instance-b") == []  # instance-a holds the lease
    assert len(workflow.delivered()) == 1


def test_a_page_stays_due_while_teams_is_down_and_goes_out_when_it_is_back(notifying, workflow):
    ident, _ = open_incident(notifying)
    workflow.fail_next(503, times=3)  # the sender's three attempts in the first tick
    assert sweep(WEDNESDAY + timedelta(minutes=1), notifier(), "instance-a") == []  # tried, failed, logged
    assert workflow.delivered() == [] and len(notifying.pages_due()) == 1
    assert sweep(WEDNESDAY + timedelta(minutes=2), notifier(), "instance-a") == ["INC-1-opening"]  # carries on
    assert [facts(r.card)["Paged"] for r in workflow.delivered()] == ["Tim Jones"]
    assert notifying.pages_due() == []
    assert len([e for e in notifying.timeline(ident) if e.kind == ESCALATION_SWEPT]) == 1


def test_a_retrigger_whose_message_was_lost_is_paged_by_the_sweeper(notifying, workflow):
    ident, opened = open_incident(notifying)
    notify(ChangeMessage(ident, opened), 1, WEDNESDAY, notifier())
    resolved = json.loads(alert())
    resolved["data"]["essentials"].update(monitorCondition="Resolved", resolvedDateTime="2026-12-02T10:01:00Z")
    catalog = context.catalog()
    receive_alert(parse_alert(json.dumps(resolved).encode()), catalog, notifying, WEDNESDAY + timedelta(minutes=1))
    again = receive_alert(parse_alert(alert("alert-2")), catalog, notifying, WEDNESDAY + timedelta(minutes=5))
    assert STATUS_CHANGED in [event.kind for event in notifying.events(ident, again.event_ids)]
    (page,) = notifying.pages_due()
    assert page.series.startswith("t")  # a series of its own, named by the re-triggering event
    assert sweep(WEDNESDAY + timedelta(minutes=6), notifier(), "instance-a") == [page.key]
    assert [facts(r.card)["Paged"] for r in workflow.delivered()] == ["Tim Jones", "Tim Jones"]


# --- storage faults at every write ----------------------------------------------------------------------------------


def proxied_store(proxy: FaultyAccount) -> IncidentStore:
    return IncidentStore(StorageAccount(proxy.connection_string))


def deliver_with_retries(store: IncidentStore, body: bytes, proxy: FaultyAccount) -> tuple[AlertIntake, int]:
    """One alert as Azure Monitor sends it: a 503 (storage unavailable) is retried, with storage healed.
    Returns the accepted delivery's intake and how many deliveries were answered 503 before it."""
    for refused in range(1 + AZURE_MONITOR_RETRIES):
        try:
            return receive_alert(parse_alert(body), context.catalog(), store, WEDNESDAY), refused
        except (StorageUnavailable, AzureError):  # what the HTTP edge answers with 503
            proxy.heal()
    raise AssertionError("the alert was never accepted")


def writes_of_one_delivery(faulty: FaultyAccount) -> int:
    store = proxied_store(faulty)
    receive_alert(parse_alert(alert("warm-up")), context.catalog(), store, WEDNESDAY)  # tables created, counter read
    faulty.count()
    receive_alert(parse_alert(alert("counted")), context.catalog(), store, WEDNESDAY)
    return faulty.writes


def test_a_storage_fault_at_any_write_of_an_opening_still_ends_in_exactly_one_page(
    azurite, notifying, workflow, faulty_storage, storage_account
):
    faulty = faulty_storage
    from tests.conftest import wipe

    writes = writes_of_one_delivery(faulty)
    assert writes >= 2
    for k in range(1, writes + 1):
        wipe(azurite.connection_string)
        context.reset()
        workflow.clear()
        store = proxied_store(faulty)
        faulty.fail_from(k)
        intake, refused = deliver_with_retries(store, alert("alert-1"), faulty)
        assert refused == 1, f"the fault at write {k} of {writes} must make the first delivery fail"
        assert intake.incident_id == "INC-1", f"fault at write {k}: {intake}"
        consume(IncidentStore(storage_account), intake)
        sweep(WEDNESDAY + timedelta(minutes=1), notifier(), "instance-a")
        healthy = IncidentStore(storage_account)
        timeline = healthy.timeline("INC-1")
        assert healthy.get_incident("INC-1") is not None, f"fault at write {k}: no incident"
        assert [e.kind for e in timeline].count(ALERT_FIRED) == 1, f"fault at write {k}"
        assert len(paged(healthy, "INC-1")) == 1, f"fault at write {k}: {[e.kind for e in timeline]}"
        assert len(workflow.delivered()) == 1, f"fault at write {k}"
        assert healthy.pages_due() == []
