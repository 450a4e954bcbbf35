"""Reading a few events of a long timeline costs a few point reads, not the whole partition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.incidents.store import IncidentStore
from shared.incidents.timeline import NOTE, TimelineEvent, event_id

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _note(minute: int) -> TimelineEvent:
    at = T0 + timedelta(minutes=minute)
    return TimelineEvent("INC-4", event_id(at, f"n{minute}"), NOTE, at, at, "Tim Jones", "teams", f"note {minute}")


def test_named_events_and_the_first_event_are_read_without_the_rest(storage_account):
    store = IncidentStore(storage_account)
    notes = [_note(minute) for minute in (30, 5, 12, 50)]  # written out of order
    for note in notes:
        store.append_event(note)
    wanted = [notes[2].event_id, "1764666000000-missing", notes[0].event_id, notes[2].event_id]
    assert [event.text for event in store.events("INC-4", wanted)] == ["note 12", "note 30"]
    assert store.first_event("INC-4").text == "note 5"
    assert store.first_event("INC-5") is None and store.events("INC-5", [notes[0].event_id]) == []
