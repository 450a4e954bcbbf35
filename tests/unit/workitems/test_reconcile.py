"""Boards reconcile's decision: which incidents lack a work item, and the change message that makes the workitems
consumer create it. Pure: incidents, ledger entries and timelines in, findings out."""

from __future__ import annotations

import json
from datetime import timedelta

from shared.incidents.timeline import FOLLOW_UP_ADDED, NOTE, STATUS_CHANGED
from shared.workitems.config import BoardsConfig
from shared.workitems.ledger import Entry
from shared.workitems.reconcile import IN_PROGRESS, NO_ITEM, NOT_RECORDED, NOTHING_TO_ASK, candidate, examine
from tests.unit.workitems.test_plan import OPENING, T0, event, incident

NOW = T0 + timedelta(days=3)
CONFIG = BoardsConfig()  # SEV1 and SEV2 get a work item


def test_only_incidents_at_or_above_the_threshold_without_a_recorded_item_are_candidates():
    assert [candidate(incident(severity=severity), CONFIG) for severity in (1, 2, 3, 4)] == [True, True, False, False]
    assert (
        candidate(incident(work_item_id=12, work_item_url="https://dev.azure.com/x/_workitems/edit/12"), CONFIG)
        is False
    )
    assert candidate(incident(), BoardsConfig(min_severity=1)) is False
    assert candidate(incident(), BoardsConfig(enabled=False)) is False


def test_the_message_lists_every_event_boards_acts_on_so_the_item_is_brought_up_to_date():
    resolved = event(STATUS_CHANGED, 30, "resolved", to="resolved")
    follow_up = event(FOLLOW_UP_ADDED, 40, "action", text="alert on queue depth", owner="Tim Jones")
    timeline = [OPENING, event(NOTE, 10, "note"), resolved, follow_up]
    finding = examine(incident(status="resolved"), None, timeline, CONFIG, NOW)
    assert finding.reason == NO_ITEM
    assert finding.message is not None
    assert json.loads(finding.message) == {
        "incident": "INC-7",
        "event": follow_up.event_id,
        "events": [OPENING.event_id, resolved.event_id, follow_up.event_id],
        "kinds": ["incident.declared", "status.changed", "action.added"],
    }


def test_a_ledger_row_decides_between_not_recorded_in_progress_and_a_claim_that_ran_out():
    done = Entry("incident", "etag", work_item_id=44, url="https://dev.azure.com/x/_workitems/edit/44", recorded_at=T0)
    live = Entry("incident", "etag", claimed_until=NOW + timedelta(minutes=2))
    expired = Entry("incident", "etag", claimed_until=NOW - timedelta(seconds=1))
    assert examine(incident(), done, [OPENING], CONFIG, NOW).reason == NOT_RECORDED
    in_progress = examine(incident(), live, [OPENING], CONFIG, NOW)
    assert (in_progress.reason, in_progress.message) == (IN_PROGRESS, None)  # the delivery holding it makes it
    assert examine(incident(), expired, [OPENING], CONFIG, NOW).reason == NO_ITEM  # its delivery died: ask again


def test_an_incident_with_no_event_boards_acts_on_is_left_alone():
    finding = examine(incident(), None, [event(NOTE, 10, "note")], CONFIG, NOW)
    assert (finding.reason, finding.message) == (NOTHING_TO_ASK, None)
