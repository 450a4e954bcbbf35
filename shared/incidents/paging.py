"""That an incident must page: recorded with the incident, in the same write that opens or re-triggers it.

A page is due when an incident opens and each time it is triggered again (an alert fires after it was resolved or
monitored, a resolved incident is reopened) while nobody has acknowledged it. The record — a row beside the
incident, written in the same table transaction as its state — is the page's outbox: the notifications consumer
starts the escalation it names and deletes it; a sweeper starts any escalation still not under way shortly after,
so a lost or delayed queue message delays a page but never loses it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.incidents.incident import TRIGGERED, Incident
from shared.incidents.timeline import STATUS_CHANGED, TimelineEvent

OPENING = ""  # the series of the escalation that an incident's opening starts


@dataclass(frozen=True)
class PageDue:
    incident_id: str
    series: str  # OPENING, or the series a re-trigger starts (named by the event that re-triggered the incident)
    due: datetime  # when the page became due: the escalation's first step and its timeline events are named by it
    written_at: datetime  # when it was recorded, by the writer's clock: the sweeper's bound counts from here

    @property
    def key(self) -> str:
        return f"{self.incident_id}-{self.series or 'opening'}"


def retriggered_series(event_id: str) -> str:
    """The series of the escalation a re-trigger starts, named by the event that re-triggered the incident."""
    return "t" + hashlib.sha256(event_id.encode()).hexdigest()[:12]


def opening_page(incident: Incident, now: datetime) -> PageDue:
    return PageDue(incident.id, OPENING, incident.declared_at, now)


def retrigger_pages(incident_id: str, events: Iterable[TimelineEvent], now: datetime) -> list[PageDue]:
    """The pages a change's events make due: one per move back to triggered (unacknowledged)."""
    return [
        PageDue(incident_id, retriggered_series(event.event_id), event.at, now)
        for event in events
        if event.kind == STATUS_CHANGED and event.data.get("to") == TRIGGERED
    ]
