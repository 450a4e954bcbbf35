"""A follow-up is done when its Boards task reaches a done state: the service hook's work item update → "follow-up
done" on the incident's timeline, and its reminders stop.

The event's id comes from the facts (the follow-up and the task's revision), so a redelivered service hook event
writes nothing new. The timeline first, then the index (events before the state they explain): a failure between
the two leaves reminders running until the hook's retry, never a done follow-up without its event.

What Firebell answers, so Azure DevOps keeps the subscription healthy (it retries failed deliveries and may put a
subscription that keeps failing on probation): 200 for a follow-up recorded done (again or not), 202 with the
reason for any update that is no follow-up's completion — another work item, a state that is not a done state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.incidents.store import IncidentStore
from shared.incidents.timeline import FOLLOW_UP_DONE, TimelineEvent, event_id
from shared.workitems.config import BoardsConfig
from shared.workitems.followup_index import FollowUpIndex, TrackedFollowUp
from shared.workitems.plan import ACTOR, SOURCE
from shared.workitems.service_hook import Ignored, WorkItemUpdate

log = logging.getLogger("firebell.workitems")

RECORDED, REPEATED, IGNORED = "recorded", "repeated", "ignored"


@dataclass(frozen=True)
class Outcome:
    status: int  # the HTTP answer
    outcome: str  # RECORDED, REPEATED or IGNORED
    reason: str = ""
    incident_id: str | None = None
    event_id: str | None = None

    def document(self) -> dict[str, Any]:
        named = {"incident": self.incident_id, "event": self.event_id, "reason": self.reason or None}
        return {"outcome": self.outcome, **{key: value for key, value in named.items() if value is not None}}


def on_update(
    update: WorkItemUpdate | Ignored, index: FollowUpIndex, store: IncidentStore, config: BoardsConfig, now: datetime
) -> Outcome:
    if isinstance(update, Ignored):
        return Outcome(202, IGNORED, update.reason)
    tracked = index.by_work_item(update.work_item_id)
    if tracked is None:
        return Outcome(202, IGNORED, f"work item {update.work_item_id} is not a Firebell follow-up")
    if update.state is None:
        return Outcome(202, IGNORED, f"work item {update.work_item_id}'s state did not change", tracked.incident_id)
    if update.state not in config.done_states:
        done = ", ".join(config.done_states)
        reason = f"work item {update.work_item_id} moved to {update.state!r}, not a done state ({done})"
        return Outcome(202, IGNORED, reason, tracked.incident_id)
    event = done_event(tracked, update, now)
    written = store.append_event(event)
    index.done(tracked, update.changed_at)
    log.info("followups: %s %s done in Boards (%s)", tracked.incident_id, tracked.key, "new" if written else "again")
    return Outcome(200, RECORDED if written else REPEATED, "", tracked.incident_id, event.event_id)


def done_event(follow_up: TrackedFollowUp, update: WorkItemUpdate, now: datetime) -> TimelineEvent:
    by = f" by {update.changed_by}" if update.changed_by else ""
    text = f"follow-up done{by} ({update.state} in Azure Boards, work item {update.work_item_id}): {follow_up.text}"
    return TimelineEvent(
        incident_id=follow_up.incident_id,
        event_id=event_id(update.changed_at, f"followup-done-{follow_up.key}-r{update.rev}"),
        kind=FOLLOW_UP_DONE,
        at=update.changed_at,
        recorded_at=now,
        actor=update.changed_by or ACTOR,
        source=SOURCE,
        text=text,
        data={
            "follow_up": follow_up.added_event,
            "work_item_id": update.work_item_id,
            "state": update.state,
            "rev": update.rev,
            "owner": follow_up.owner,
        },
    )
