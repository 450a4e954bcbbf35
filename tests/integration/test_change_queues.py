"""Which queues hear of a change: the status page of every one, responders and trackers of those that matter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from functions.change_queues import announce, change_message
from shared.adapters.incident_store import IncidentStore
from shared.alert_intake import receive_alert
from shared.catalog import load_catalog
from tests.conftest import ROOT
from tests.integration.test_alert_intake import _alert_with_id

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CATALOG = load_catalog(ROOT / "config")


class Output:
    """What azure.functions.Out does for a queue output: holds the one value the function sets."""

    def __init__(self) -> None:
        self.value: str | None = None

    def set(self, value: str) -> None:
        self.value = value

    def get(self) -> str | None:
        return self.value


def test_a_change_message_names_the_incident_and_every_event_the_change_wrote():
    assert json.loads(change_message("INC-7", ["a", "b"])) == {"incident": "INC-7", "event": "b", "events": ["a", "b"]}


def test_opening_an_incident_reaches_every_queue_and_a_further_signal_only_the_status_page(storage_account):
    store = IncidentStore(storage_account)
    opened = receive_alert(_alert_with_id("first"), CATALOG, store, NOW)
    joined = receive_alert(_alert_with_id("second"), CATALOG, store, NOW + timedelta(minutes=1))
    assert (opened.outcome, opened.changed_incident) == ("opened", True)
    assert (joined.outcome, joined.incident_id, joined.changed_incident) == ("joined", "INC-1", False)

    for intake, reached in ((opened, [True, True, True]), (joined, [True, False, False])):
        outputs = [Output(), Output(), Output()]
        responders = outputs[1:] if intake.changed_incident else ()
        announce("INC-1", intake.event_ids, outputs[0], responders)
        assert [output.get() is not None for output in outputs] == reached
        assert json.loads(outputs[0].get() or "{}")["events"] == list(intake.event_ids)


def test_the_resolution_that_settles_an_incident_reaches_responders(storage_account):
    store = IncidentStore(storage_account)
    receive_alert(_alert_with_id("only"), CATALOG, store, NOW)
    resolved = receive_alert(_alert_with_id("only", "Resolved"), CATALOG, store, NOW + timedelta(minutes=5))
    assert resolved.changed_incident and resolved.state_event_ids
    assert set(resolved.state_event_ids) < set(resolved.event_ids)
    kinds = {event.event_id: event.kind for event in store.timeline("INC-1")}
    assert [kinds[ident] for ident in resolved.state_event_ids] == ["status.changed"]


def test_nothing_is_announced_when_a_delivery_wrote_no_event():
    outputs = [Output(), Output()]
    announce("INC-1", (), outputs[0], outputs[1:])
    assert [output.get() for output in outputs] == [None, None]
