"""One `statuspage` queue message: the site is rendered from the store, so the message only says why and when — a
change of an incident (a drill's is moot), or a maintenance's start or end (held in the queue until it is near).
An unreadable message still refreshes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared.core import telemetry
from shared.core.errors import InvalidInput
from shared.core.queues import STATUSPAGE
from shared.core.timeutil import parse_instant
from shared.incidents.changes import ChangeMessage
from shared.statuspage.maintenance_intake import EARLY_TOLERANCE, send_at
from shared.statuspage.refresh import Refresh

if TYPE_CHECKING:
    from shared.incidents.store import IncidentStore
    from shared.statuspage.publisher import SitePublisher


def on_message(body: bytes, inserted_at: datetime | None, now: datetime, publisher: SitePublisher) -> int:
    """Refresh the site for one `statuspage` message (or hold it for its moment); returns the number of files
    written."""
    moment = _message_moment(body)
    if moment is not None and moment - now > EARLY_TOLERANCE:
        # Shown before its moment: a window more than 7 days ahead (see MAX_DELAY), so wait the rest in the queue.
        send_at(publisher.account.queue(STATUSPAGE), body.decode(), moment, now)
        return 0
    # A drill's change is moot: nothing public changed, and a render would only rewrite the site's times.
    request = Refresh(received_at=now, inserted_at=_utc(inserted_at), moment=moment)
    drill: list[bool] = []

    def moot() -> bool:
        drill.append(about_drill(publisher.incidents, body))
        return drill[-1]

    written = publisher.refresh(request, moot=moot)
    if telemetry.enabled() and not any(drill):  # one point read, only when someone collects the figure (no drill's)
        recorded_at = changed_at(publisher.incidents, body)
        if recorded_at is not None:
            telemetry.observe(telemetry.PUBLISH_LAG, max(0.0, (publisher.clock() - recorded_at).total_seconds()))
    return written


def changed_at(incidents: IncidentStore, body: bytes) -> datetime | None:
    """When Firebell recorded the change a message announces (its last event), for the publish lag; None for a
    message that names no incident event (maintenance, unreadable)."""
    change = _change(body)
    if change is None:
        return None
    events = incidents.events(change.incident, change.events[-1:])
    return events[0].recorded_at if events else None


def about_drill(incidents: IncidentStore, body: bytes) -> bool:
    """Whether a message announces a change of a drill, which the public site never shows: one point read."""
    change = _change(body)
    if change is None:
        return False  # a maintenance message, or unreadable: it refreshes
    incident = incidents.get_incident(change.incident)
    return incident is not None and incident.drill


def _change(body: bytes) -> ChangeMessage | None:
    """The change of an incident a message announces; None for a maintenance message, or an unreadable one."""
    try:
        return ChangeMessage.parse(body)
    except InvalidInput:
        return None


def _message_moment(body: bytes) -> datetime | None:
    """The start or end a delayed maintenance message stands for; None for every other message."""
    try:
        document = json.loads(body)
        return parse_instant(document["at"]) if isinstance(document, dict) and "at" in document else None
    except (ValueError, TypeError, KeyError, OverflowError):
        return None


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
