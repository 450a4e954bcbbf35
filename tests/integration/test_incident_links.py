"""An incident is linked to its Teams channel and its work item once (IncidentStore.record_link): the first link
recorded stands, whichever delivery wrote it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.core.errors import StorageUnavailable
from shared.incidents.store import IncidentStore
from tests.integration.test_notifications import WEDNESDAY, open_incident

LATER = WEDNESDAY + timedelta(minutes=3)


def test_an_unlinked_incident_is_linked_in_a_new_version(storage_account):
    store = IncidentStore(storage_account)
    ident, _ = open_incident(store)
    before = store.get_incident(ident)
    linked = store.record_link(ident, LATER, "work item", work_item_id=42, work_item_url="https://boards/42")
    assert (linked.work_item_id, linked.work_item_url, linked.version, linked.updated_at) == (
        42,
        "https://boards/42",
        before.version + 1,
        LATER,
    )
    assert store.get_incident(ident) == linked


def test_a_linked_incident_keeps_its_first_link_and_is_not_written_again(storage_account):
    store = IncidentStore(storage_account)
    ident, _ = open_incident(store)
    first = store.record_link(ident, LATER, "channel", channel_id="19:first@thread", channel_url="https://teams/1")
    again = store.record_link(ident, LATER, "channel", channel_id="19:second@thread", channel_url="https://teams/2")
    assert again == first == store.get_incident(ident)
    assert (again.channel_id, again.channel_url) == ("19:first@thread", "https://teams/1")


def test_a_missing_incident_is_a_storage_failure_naming_the_link(storage_account):
    store = IncidentStore(storage_account)
    with pytest.raises(StorageUnavailable) as raised:
        store.record_link("INC-9", LATER, "work item", work_item_id=42, work_item_url="https://boards/42")
    assert raised.value.detail == "INC-9 vanished while its work item was recorded"
