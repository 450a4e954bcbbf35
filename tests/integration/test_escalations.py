"""Escalation over real delayed queue messages (Azurite) and real HTTP to the Workflows stand-in.

A step pages whoever is on call, says so on the timeline, keeps "who knows" current and schedules the next step to
become visible only after its wait; a second message for a step does nothing; an acknowledgement stops it; a gap
skips to the next step; after the last step the escalation channel hears once; overdue public updates remind the
commander and communications coordinator once per promised time.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from shared.incidents.store import IncidentStore
from shared.notifications.escalate import remind, run_step
from shared.notifications.ledger import EscalationLedger
from shared.notifications.policy import FIRST, Position, StepMessage
from shared.teams.workflow import WorkflowUnavailable
from tests.conftest import wait_until
from tests.integration import test_notifications as base
from tests.integration.test_notifications import WEDNESDAY, facts, notifier, open_incident, say

# The fixtures this module shares with the notifications tests.
config_dir, workflow, notifying = base.config_dir, base.workflow, base.notifying
MONDAY = WEDNESDAY + timedelta(days=5)  # the secondary layer covers Mondays


def timeline_texts(store: IncidentStore, ident: str, *kinds: str) -> list[str]:
    return [event.text for event in store.timeline(ident) if event.kind in kinds]


def escalation_texts(store: IncidentStore, ident: str) -> list[str]:
    kinds = ("escalation.paged", "escalation.skipped", "escalation.stopped", "escalation.exhausted")
    return timeline_texts(store, ident, *kinds)


def first_step(store: IncidentStore) -> tuple[str, StepMessage]:
    """Open an incident; the message for step 0 of its policy (the notifications function runs that one itself)."""
    ident, _ = open_incident(store)
    return ident, StepMessage(ident, "quick", FIRST, WEDNESDAY)


def test_a_step_pages_the_on_call_primary_and_the_next_step_waits_on_the_queue(notifying, storage_account, workflow):
    ident, step = first_step(notifying)
    run = run_step(step, "message-1", 1, WEDNESDAY, notifier())
    assert run.steps == [(FIRST, "paged")]

    (received,) = workflow.delivered()
    assert facts(received.card) == {
        "Incident": "INC-1",
        "Severity": "SEV2",
        "Service": "checkout",
        "Status": "triggered",
        "Detected": "2026-12-02T09:58:00.000Z",
        "Paged": "Tim Jones",
        "Why": "payments primary, step 1 of 3, round 1 of 2",
    }
    assert received.card["msteams"]["entities"][0]["mentioned"] == {"id": "tim.jones@example.com", "name": "Tim Jones"}
    assert escalation_texts(notifying, ident) == ["paged Tim Jones (payments primary, step 1 of 3, round 1 of 2)"]
    assert notifying.get_incident(ident).notified == ("Tim Jones",)

    # The next step is on the queue, invisible for the step's wait (1.5 s → 2 s): the server says so, and a
    # receive now finds nothing; it arrives once the wait has passed.
    scheduled = run.scheduled
    assert scheduled.next_visible_on - scheduled.inserted_on == timedelta(seconds=2)
    queue = storage_account.queue("escalations")
    assert list(queue.peek_messages(max_messages=5)) == []
    assert queue.get_queue_properties().approximate_message_count == 1
    arrived = wait_until(lambda: list(queue.receive_messages(max_messages=5)), timeout=10)
    assert StepMessage.from_json(json.loads(arrived[0].content)) == StepMessage(
        ident, "quick", Position(1, 1), WEDNESDAY + timedelta(seconds=1.5)
    )


def test_the_first_step_looks_up_who_is_on_call_while_its_claim_is_written(notifying, workflow):
    # The claim's write waits until the on-call lookup has begun: done one after the other, it would wait in vain.
    ident, step = first_step(notifying)
    paging = notifier()
    looking_up, claim_step, on_call = threading.Event(), paging.ledger.claim_step, paging.on_call

    def claim_once_looking_up(*args, **kwargs):
        assert looking_up.wait(timeout=10), "the claim was written before anyone looked up who is on call"
        return claim_step(*args, **kwargs)

    def look_up(*args, **kwargs):
        looking_up.set()
        return on_call(*args, **kwargs)

    paging.ledger.claim_step, paging.on_call = claim_once_looking_up, look_up
    run = run_step(step, "message-1", 1, WEDNESDAY, paging, incident=notifying.get_incident(ident))
    assert run.steps == [(FIRST, "paged")]
    assert [facts(received.card)["Paged"] for received in workflow.delivered()] == ["Tim Jones"]


def test_a_step_message_that_arrives_twice_pages_once(notifying, storage_account, workflow):
    ident, step = first_step(notifying)
    assert run_step(step, "message-1", 1, WEDNESDAY, notifier()).steps == [(FIRST, "paged")]
    # The same message redelivered after it succeeded, and a duplicate message (a second enqueue).
    assert run_step(step, "message-1", 2, WEDNESDAY, notifier()).steps == []
    assert run_step(step, "message-2", 1, WEDNESDAY + timedelta(seconds=3), notifier()).steps == []
    assert len(workflow.delivered()) == 1
    assert escalation_texts(notifying, ident) == ["paged Tim Jones (payments primary, step 1 of 3, round 1 of 2)"]
    assert storage_account.queue("escalations").get_queue_properties().approximate_message_count == 1


def test_a_message_that_failed_half_way_is_carried_on_by_its_redelivery_without_a_second_page(
    notifying, storage_account, workflow
):
    ident, step = first_step(notifying)
    workflow.fail_next(500, times=3)
    with pytest.raises(WorkflowUnavailable):
        run_step(step, "message-1", 1, WEDNESDAY, notifier())
    assert escalation_texts(notifying, ident) == []  # nothing recorded as done
    # A duplicate message meanwhile leaves the step to the message that holds it.
    assert run_step(step, "message-2", 1, WEDNESDAY, notifier()).steps == []
    assert run_step(step, "message-1", 2, WEDNESDAY, notifier()).steps == [(FIRST, "paged")]
    assert len(workflow.delivered()) == 1


def test_an_acknowledgement_stops_escalation_at_the_next_step(notifying, storage_account, workflow):
    ident, step = first_step(notifying)
    run_step(step, "message-1", 1, WEDNESDAY, notifier())
    say(notifying, "ack INC-1", who="Tim Jones")
    following = StepMessage(ident, "quick", Position(1, 1), WEDNESDAY + timedelta(seconds=2))
    run = run_step(following, "message-2", 1, WEDNESDAY + timedelta(seconds=2), notifier())
    assert (run.steps, run.scheduled) == ([(Position(1, 1), "stopped")], None)
    assert escalation_texts(notifying, ident) == [
        "paged Tim Jones (payments primary, step 1 of 3, round 1 of 2)",
        "escalation stopped: acknowledged by Tim Jones",
    ]
    assert len(workflow.delivered()) == 1
    assert storage_account.queue("escalations").get_queue_properties().approximate_message_count == 1  # step 1's


def test_a_gap_in_the_schedule_is_skipped_at_once_and_said(notifying, storage_account, workflow):
    ident, _ = open_incident(notifying)
    # Wednesday: nobody is on call in the secondary layer, so step 2 is skipped and step 3 pages Priya at once.
    message = StepMessage(ident, "quick", Position(1, 1), WEDNESDAY)
    run = run_step(message, "message-1", 1, WEDNESDAY, notifier())
    assert run.steps == [(Position(1, 1), "skipped"), (Position(1, 2), "paged")]
    assert escalation_texts(notifying, ident) == [
        "escalation skipped (payments secondary, step 2 of 3, round 1 of 2): nobody is on call in payments "
        "secondary (a gap in the schedule)",
        "paged Priya Raman (named contact, step 3 of 3, round 1 of 2)",
    ]
    assert [facts(r.card)["Paged"] for r in workflow.delivered()] == ["Priya Raman"]
    # Round 2 begins after step 3's wait (none here): visible at once.
    assert StepMessage.from_json(json.loads(run.scheduled.content)).position == Position(2, 0)


def test_on_monday_the_secondary_is_on_call_and_paged(notifying, storage_account, workflow):
    ident, _ = open_incident(notifying)
    run = run_step(StepMessage(ident, "quick", Position(1, 1), MONDAY), "message-1", 1, MONDAY, notifier())
    assert run.steps == [(Position(1, 1), "paged")]
    assert [facts(r.card)["Paged"] for r in workflow.delivered()] == ["Larry Brown"]


def test_after_the_last_step_the_escalation_channel_is_alerted_once(notifying, storage_account, workflow):
    ident, _ = open_incident(notifying)
    run = run_step(StepMessage(ident, "once", FIRST, WEDNESDAY), "message-1", 1, WEDNESDAY, notifier())
    assert (run.steps, run.scheduled) == ([(FIRST, "paged")], None)
    assert remind(WEDNESDAY - timedelta(seconds=1), notifier()) == []  # not yet due
    assert remind(WEDNESDAY + timedelta(seconds=30), notifier()) == ["INC-1 exhausted"]
    assert remind(WEDNESDAY + timedelta(minutes=1), notifier()) == []  # once
    _, exhausted = [r.card for r in workflow.delivered()]
    assert exhausted["body"][1]["text"] == (
        "Nobody has acknowledged INC-1 after every escalation step. Someone must take it now."
    )
    assert facts(exhausted)["Paged so far"] == "Tim Jones"
    assert escalation_texts(notifying, ident)[-1] == (
        "escalation exhausted: every step of escalation policy once ran (1 step, 1 round), unacknowledged; "
        "the escalation channel was alerted"
    )


def test_an_acknowledged_incident_never_reaches_the_escalation_channel(notifying, storage_account, workflow):
    ident, _ = open_incident(notifying)
    run_step(StepMessage(ident, "once", FIRST, WEDNESDAY), "message-1", 1, WEDNESDAY, notifier())
    say(notifying, "ack INC-1")
    assert remind(WEDNESDAY + timedelta(minutes=5), notifier()) == []
    assert len(workflow.delivered()) == 1


def test_the_last_delivery_of_a_failing_page_says_so_and_escalation_goes_on(notifying, storage_account, workflow):
    ident, step = first_step(notifying)
    workflow.fail_next(500, times=3, body="down")
    with pytest.raises(WorkflowUnavailable):
        run_step(step, "message-1", 5, WEDNESDAY, notifier())  # host.json maxDequeueCount: next stop, poison
    assert timeline_texts(notifying, ident, "notification.failed") == [
        "notification failed: HTTP 500 from Workflows: down after 3 attempts"
    ]
    ledger = EscalationLedger(storage_account)
    assert ledger.step(ident, FIRST).state == "failed"
    assert storage_account.queue("escalations").get_queue_properties().approximate_message_count == 1  # step 2


def test_an_overdue_public_update_reminds_commander_and_comms_once_per_promise(notifying, storage_account, workflow):
    ident, _ = open_incident(notifying)
    say(notifying, "role INC-1 commander Larry Brown", minute=1)
    say(notifying, "role INC-1 comms Priya Raman", minute=2)
    say(notifying, "update INC-1 investigating We are looking into it. Next update in 30 min", minute=3)
    promised = WEDNESDAY + timedelta(minutes=33)
    assert notifying.get_incident(ident).next_update_at == promised
    assert remind(promised - timedelta(seconds=1), notifier()) == []
    assert remind(promised + timedelta(minutes=2), notifier()) == ["INC-1 reminder"]
    assert remind(promised + timedelta(minutes=3), notifier()) == []
    (card,) = [r.card for r in workflow.delivered()]
    assert card["body"][1]["text"] == (
        "<at>Larry Brown</at>, <at>Priya Raman</at>: the public update promised for 2026-12-02T10:33:00.000Z is "
        "2 min overdue. Post one with `update INC-1 …`."
    )
    assert [entity["mentioned"]["name"] for entity in card["msteams"]["entities"]] == ["Larry Brown", "Priya Raman"]
    assert timeline_texts(notifying, ident, "reminder.sent") == [
        "reminded Larry Brown, Priya Raman: the public update promised for 2026-12-02T10:33:00.000Z is overdue"
    ]
    # A new promise, overdue in its turn, reminds again.
    say(notifying, "update INC-1 Still investigating. Next update in 30 min", minute=40)
    assert remind(WEDNESDAY + timedelta(minutes=75), notifier()) == ["INC-1 reminder"]
    assert len(workflow.delivered()) == 2


def test_an_unacknowledged_incident_triggered_again_is_escalated_again_once(notifying, storage_account, workflow):
    from shared.azure_monitor.alert import parse_alert
    from shared.incidents.alert_intake import receive_alert
    from shared.incidents.changes import ChangeMessage
    from shared.incidents.timeline import STATUS_CHANGED
    from shared.notifications.notify import notify
    from tests.integration.test_notifications import alert

    ident, opened = open_incident(notifying)
    notify(ChangeMessage(ident, opened), 1, WEDNESDAY, notifier())
    resolved = json.loads(alert())
    resolved["data"]["essentials"].update(monitorCondition="Resolved", resolvedDateTime="2026-12-02T10:01:00Z")
    catalog = base.context.catalog()
    receive_alert(parse_alert(json.dumps(resolved).encode()), catalog, notifying, WEDNESDAY + timedelta(minutes=1))
    assert notifying.get_incident(ident).status == "monitoring"
    # The alert fires again and nobody has acknowledged: the incident is triggered again, and paged again.
    again = receive_alert(parse_alert(alert("alert-2")), catalog, notifying, WEDNESDAY + timedelta(minutes=5))
    assert notifying.get_incident(ident).status == "triggered"
    retriggered = [e for e in notifying.timeline(ident) if e.kind == STATUS_CHANGED and e.data["to"] == "triggered"]
    assert len(retriggered) == 1 and retriggered[0].event_id in again.event_ids
    for delivery in (1, 2):  # the change message, and its redelivery
        notify(ChangeMessage(ident, again.event_ids), delivery, WEDNESDAY + timedelta(minutes=5), notifier())
    assert [facts(card.card)["Paged"] for card in workflow.delivered()] == ["Tim Jones", "Tim Jones"]
    assert escalation_texts(notifying, ident) == [
        "paged Tim Jones (payments primary, step 1 of 3, round 1 of 2)",
        "paged Tim Jones (payments primary, step 1 of 3, round 1 of 2)",
    ]


def test_a_later_step_rides_out_a_workflows_outage_and_pages_once_after_it(notifying, storage_account, workflow):
    from shared.notifications.escalate import on_step
    from tests.integration.test_notifications import BACKOFF, poison_messages, ride_out

    ident, _ = open_incident(notifying)
    step = StepMessage(ident, "quick", Position(1, 2), WEDNESDAY)  # step 3: Priya Raman, any day
    queue = storage_account.queue("escalations")
    pauses, end, _, failure = ride_out(
        on_step, queue, json.dumps(step.to_json()), WEDNESDAY, timedelta(minutes=5), workflow
    )
    assert (pauses, failure) == (BACKOFF, None)
    assert [facts(r.card)["Paged"] for r in workflow.delivered()] == ["Priya Raman"]
    assert escalation_texts(notifying, ident) == ["paged Priya Raman (named contact, step 3 of 3, round 1 of 2)"]
    assert timeline_texts(notifying, ident, "notification.failed") == []
    ledger = EscalationLedger(storage_account)
    assert (ledger.step(ident, Position(1, 2)).state, ledger.step(ident, Position(1, 2)).message_id) == ("paged", "m-1")
    # What is left on the queue is round 2's first step (step 3 has no wait), not another copy of this one.
    (following,) = [StepMessage.from_json(json.loads(m.content)) for m in queue.receive_messages(max_messages=32)]
    assert following.position == Position(2, 0) and following.due == end
    assert poison_messages(storage_account) == 0


def test_a_step_message_with_deferral_keys_is_read_as_before():
    document = StepMessage("INC-1", "quick", FIRST, WEDNESDAY).to_json()
    extra = {**document, "holder": "m-1", "deferrals": 3, "first_failure": "2026-12-02T10:00:00.000Z"}
    assert StepMessage.from_json(extra) == StepMessage.from_json(document)
