"""Timeline events: the append-only record of everything that happened to an incident."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ALERT_FIRED = "alert.fired"
ALERT_RESOLVED = "alert.resolved"
INCIDENT_DECLARED = "incident.declared"
SEVERITY_CHANGED = "severity.changed"
STATUS_CHANGED = "status.changed"
PUBLIC_UPDATE = "update.posted"  # the only event whose words the public sees
# Written by ChatOps.
CHAT_MESSAGE = "chat.message"  # read-only commands, refusals and plain talk
NOTE = "note"
ACKNOWLEDGED = "incident.acknowledged"
ROLE_ASSIGNED, ROLE_HANDED_OFF, ROLE_RELEASED = "role.assigned", "role.handed_off", "role.released"
FOLLOW_UP_ADDED = "action.added"
FOLLOW_UP_DONE = "action.done"  # its Boards task reached a done state (the Boards service hook said so)
MILESTONE_CORRECTED = "milestone.corrected"
COMPONENT_STATUS_SET = "component.status_set"  # the status page shows the component as the coordinator says
PAGE_REQUESTED = "page.requested"  # someone asked Firebell to page a roster or a person
# Written by notifications and escalations.
ESCALATION_PAGED = "escalation.paged"  # an escalation step paged someone
ESCALATION_SKIPPED = "escalation.skipped"  # nobody to page at a step (a gap in the rota, no role holder)
ESCALATION_STOPPED = "escalation.stopped"  # acknowledged or closed: no more steps
ESCALATION_SWEPT = "escalation.swept"  # a page still not under way was started by the sweeper
ESCALATION_EXHAUSTED = "escalation.exhausted"  # every step ran, unacknowledged: the escalation channel was alerted
REMINDER_SENT = "reminder.sent"  # the promised public update is overdue: commander and comms reminded
NOTIFICATION_FAILED = "notification.failed"
# Written by contacts (a paged person's SMS and voice steps).
CONTACT_SENT = "contact.sent"  # an SMS or call went out to a paged person
CONTACT_DELIVERED = "contact.delivered"  # the carrier's delivery report (or its failure)
CONTACT_FAILED = "contact.failed"  # the channel failed for good: the next rule step goes out at once
CONTACT_DROPPED = "contact.dropped"  # a queued step the person's rules no longer have (changed since the page)
CONTACT_ESCALATED = "contact.escalated"  # the paged person pressed 2 on the call: the next escalation step now
NOTIFICATIONS_NOT_CONFIGURED = "notification.not_configured"
# Written by the workitems queue (Azure Boards).
WORK_ITEM_CREATED = "workitem.created"  # the incident's work item, or a follow-up's child task, exists in Boards
WORK_ITEM_UPDATED = "workitem.updated"  # severity, state or a resolution comment carried over
CHANNEL_REQUESTED = "channel.requested"  # someone asked for the incident's own Teams channel
CHANNEL_CREATED = "channel.created"  # the incident's Teams channel exists (Microsoft Graph)
CHANNEL_ARCHIVED = "channel.archived"  # archived (or renamed closed) when the incident closed
CHANNEL_FAILED = "channel.failed"  # "channel not created: …", "incident channels not configured", …
WORK_ITEM_FAILED = "workitem.failed"  # "work item not created: …", "Azure Boards not configured", …


@dataclass(frozen=True)
class TimelineEvent:
    incident_id: str
    event_id: str
    kind: str
    at: datetime  # when it happened in the world (e.g. the alert's fired time)
    recorded_at: datetime  # when Firebell learned of it
    actor: str  # who or what: a person's name, "Azure Monitor", …
    source: str  # where from: "azure-monitor", "teams", "api", …
    text: str  # internal wording; never shown publicly unless `public`
    public: bool = False
    data: dict[str, Any] = field(default_factory=dict)


def event_id(at: datetime, discriminator: str) -> str:
    """Sortable by time, and deterministic for the same fact, so a redelivery writes the same row twice at most."""
    return f"{int(at.timestamp() * 1000):013d}-{discriminator}"
