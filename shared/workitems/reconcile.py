"""Boards reconcile: does an incident that should have an Azure Boards work item lack one, and which change message
makes the `workitems` consumer create it? Pure: the operator tool reads the store and the Boards ledger, and
enqueues what this decides.

The message lists every event of the incident's timeline that Boards acts on (its opening, severity and status
changes, follow-ups), so the consumer brings the item all the way up to date: created, moved to the incident's
state, with its resolution comments and follow-up tasks. The ledger makes each of those once, however often the
message is delivered or the reconcile is run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shared.incidents.changes import TRACKER_KINDS, change_message
from shared.incidents.incident import Incident
from shared.incidents.timeline import TimelineEvent
from shared.workitems.config import BoardsConfig
from shared.workitems.plan import plan

if TYPE_CHECKING:  # the ledger's row as read; its table SDK stays out of this pure module
    from shared.workitems.ledger import Entry

# Why an incident is listed.
NO_ITEM = "no work item"
NOT_RECORDED = "work item in the Boards ledger but not on the incident"
IN_PROGRESS = "a delivery is creating its work item now"
NOTHING_TO_ASK = "no event Boards acts on"


def candidate(incident: Incident, config: BoardsConfig) -> bool:
    """Severe enough for a work item and none recorded on the incident: worth reading its ledger row."""
    wanted = config.enabled and (config.drills or not incident.drill)
    return wanted and incident.work_item_id is None and config.creates_item(incident.severity)


@dataclass(frozen=True)
class Finding:
    incident: Incident
    reason: str  # NO_ITEM, NOT_RECORDED (enqueue), IN_PROGRESS or NOTHING_TO_ASK (left alone)
    message: str | None = None  # the change message for `workitems`; None: nothing to enqueue


def examine(
    incident: Incident, entry: Entry | None, timeline: list[TimelineEvent], config: BoardsConfig, now: datetime
) -> Finding:
    """What to do for a candidate, given its ledger row for the incident's work item (None: none) and its timeline."""
    if entry is not None and entry.claimed(now):
        return Finding(incident, IN_PROGRESS)
    events = [event for event in timeline if event.kind in TRACKER_KINDS]
    ids = [event.event_id for event in events]
    if plan(incident, timeline, ids, config).empty:  # what the consumer would decide: nothing to create
        return Finding(incident, NOTHING_TO_ASK)
    reason = NOT_RECORDED if entry is not None and entry.done else NO_ITEM
    return Finding(incident, reason, change_message(incident.id, ids, [event.kind for event in events]))
