"""Which queue hears of a change: one message per change — the status page alone for a further signal, the
notifications function (which passes it on to the status page, Boards and readiness) for anything responders act
on or that may change a readiness summary."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from functions.http_edge import announce
from shared.catalog.services import load_catalog
from shared.incidents.alert_intake import receive_alert
from shared.incidents.changes import change_message, first_queue, forward, responders_act_on
from shared.incidents.store import IncidentStore
from tests.conftest import ROOT
from tests.integration.test_alert_intake import _alert_with_id

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CATALOG = load_catalog(ROOT / "config")


def test_a_change_message_names_the_incident_and_every_event_the_change_wrote():
    assert json.loads(change_message("INC-7", ["a", "b"])) == {"incident": "INC-7", "event": "b", "events": ["a", "b"]}


def test_opening_an_incident_goes_to_notifications_and_a_further_signal_only_to_the_status_page(storage_account):
    store = IncidentStore(storage_account)
    opened = receive_alert(_alert_with_id("first"), CATALOG, store, NOW)
    joined = receive_alert(_alert_with_id("second"), CATALOG, store, NOW + timedelta(minutes=1))
    assert (opened.outcome, opened.changed_incident) == ("opened", True)
    assert (joined.outcome, joined.incident_id, joined.changed_incident) == ("joined", "INC-1", False)
    for intake, reached in ((opened, "notifications"), (joined, "statuspage")):
        act = intake.changed_incident
        assert announce("INC-1", intake.event_ids, responders_act=act, kinds=intake.kinds) == reached
        (message,) = storage_account.queue(reached).receive_messages(max_messages=5)
        told = json.loads(message.content)
        assert (told["events"], told["kinds"]) == (list(intake.event_ids), ["alert.fired"])
        storage_account.queue(reached).delete_message(message)


def test_an_opening_is_passed_on_to_the_page_boards_and_the_channel_but_not_to_the_figures(storage_account):
    # An open incident has no readiness summary and no review draft: those consumers are not woken for it.
    opened = receive_alert(_alert_with_id("first"), CATALOG, IncidentStore(storage_account), NOW)
    told = change_message(opened.incident_id, opened.event_ids, opened.kinds)
    assert forward(told, storage_account) == ["statuspage", "workitems", "channels"]


def test_the_resolution_that_settles_an_incident_reaches_responders(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(_alert_with_id("only"), CATALOG, store, NOW)
    resolved = receive_alert(_alert_with_id("only", "Resolved"), CATALOG, store, NOW + timedelta(minutes=5))
    state_event_ids = [event.event_id for event in resolved.state_events]
    assert resolved.changed_incident and state_event_ids
    assert set(state_event_ids) < set(resolved.event_ids)
    kinds = {event.event_id: event.kind for event in store.timeline("INC-1")}
    assert [kinds[ident] for ident in state_event_ids] == ["status.changed"]
    assert resolved.kinds == tuple(kinds[ident] for ident in resolved.event_ids) == ("alert.resolved", "status.changed")
    told = change_message("INC-1", resolved.event_ids, resolved.kinds)
    assert forward(told, storage_account) == ["statuspage", "workitems", "readiness", "postmortems", "channels"]


def test_nothing_is_announced_when_a_delivery_wrote_no_event(storage_account):
    assert announce("INC-1", (), responders_act=True) is None
    assert [storage_account.message_count(queue) for queue in ("statuspage", "notifications")] == [0, 0]


def test_notifications_forwards_the_same_message_to_the_status_page_boards_and_readiness(storage_account):
    message = change_message("INC-3", ["e1", "e2"])
    # Kinds unknown (an older message): Boards, readiness and the incident channel decide for themselves.
    assert forward(message, storage_account) == ["statuspage", "workitems", "readiness", "postmortems", "channels"]
    for queue in ("statuspage", "workitems", "readiness"):
        (received,) = storage_account.queue(queue, encoding="none").receive_messages(max_messages=5)
        assert base64.b64decode(received.content).decode() == message  # as the Functions host encodes it


def test_a_message_without_readable_kinds_reaches_every_consumer(storage_account):
    assert forward('{"incident": "INC-3", "event": "e1", "events": ["e1"], "kinds": 5}', storage_account) == [
        "statuspage",
        "workitems",
        "readiness",
        "postmortems",
        "channels",
    ]


def test_boards_hears_only_of_changes_it_tracks(storage_account):
    assert forward(change_message("INC-3", ["e1"], ["incident.acknowledged"]), storage_account) == ["statuspage"]
    assert forward(change_message("INC-3", ["e2"], ["severity.changed"]), storage_account) == [
        "statuspage",
        "workitems",
        "readiness",
        "postmortems",
        "channels",  # a severity raised to the channel threshold makes the channel
    ]
    assert forward(change_message("INC-3", ["e3"], ["action.added"]), storage_account) == [
        "statuspage",
        "workitems",
        "readiness",
        "postmortems",
    ]


def test_readiness_and_reviews_hear_of_resolutions_corrections_and_later_words_not_of_acks_or_roles(storage_account):
    resolved = forward(change_message("INC-3", ["e1"], ["status.changed"]), storage_account)
    assert resolved[-3:] == ["readiness", "postmortems", "channels"]
    assert forward(change_message("INC-3", ["e2"], ["milestone.corrected"]), storage_account) == [
        "statuspage",
        "readiness",
        "postmortems",
    ]
    assert forward(change_message("INC-3", ["e3"], ["role.assigned"]), storage_account) == ["statuspage"]


def test_a_corrected_milestone_goes_through_notifications_so_that_readiness_hears_of_it():
    assert first_queue(["milestone.corrected"]) == "notifications"
    assert first_queue(["note"]) == "statuspage"
    # Only an alert's intake decides for an alert's change (kinds unknown).
    assert first_queue(None, responders_act=False) == "statuspage"


def test_a_public_update_or_a_component_status_goes_straight_to_the_status_page():
    assert not responders_act_on(["update.posted"]) and not responders_act_on(["component.status_set"])
    assert responders_act_on(["incident.acknowledged"]) and responders_act_on(["update.posted", "status.changed"])
    assert responders_act_on(["action.added"]) and responders_act_on(["severity.changed"])
