"""Starting and closing a review: the state change and the timeline event's words, shared by Teams and the API.
Pure; the moves themselves are shared.incidents.lifecycle's.

The review is facilitated by someone who was not part of the response: naming a facilitator who was is allowed (a
small team may have nobody else) but warned about, and the warning is on the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.incidents import lifecycle
from shared.incidents.incident import Incident
from shared.incidents.roles import TITLES
from shared.incidents.timeline import (
    ACKNOWLEDGED,
    CHAT_MESSAGE,
    ESCALATION_PAGED,
    ROLE_ASSIGNED,
    ROLE_HANDED_OFF,
    TimelineEvent,
)
from shared.postmortems.policy import ReviewPolicy


def took_part(person: str, incident: Incident, timeline: Sequence[TimelineEvent]) -> list[str]:
    """How `person` took part in the response (empty when they did not): roles held at any time, paged,
    acknowledged, or acted on the incident from Teams or the API."""
    wanted = person.casefold()
    found: list[str] = []
    for role, holder in incident.roles:
        if holder.casefold() == wanted:
            found.append(TITLES.get(role, role).lower())
    for event in timeline:
        data = event.data
        if event.kind == ROLE_ASSIGNED and str(data.get("person", "")).casefold() == wanted:
            found.append(TITLES.get(str(data.get("role")), str(data.get("role"))).lower())
        elif event.kind == ROLE_HANDED_OFF and wanted in (
            str(data.get("from")).casefold(),
            str(data.get("to")).casefold(),
        ):
            found.append("incident commander")
        elif event.kind == ESCALATION_PAGED and str(data.get("person", "")).casefold() == wanted:
            found.append("paged")
        elif event.kind == ACKNOWLEDGED and str(data.get("by") or event.actor).casefold() == wanted:
            found.append("acknowledged")
        elif event.source in ("teams", "api") and event.kind != CHAT_MESSAGE and event.actor.casefold() == wanted:
            found.append("acted on the incident")
    if any(name.casefold() == wanted for name in incident.acknowledged_by):
        found.append("acknowledged")
    if any(name.casefold() == wanted for name in incident.notified):
        found.append("notified")
    return list(dict.fromkeys(found))


def start(
    incident: Incident, timeline: Sequence[TimelineEvent], facilitator: str | None, by: str, at: datetime
) -> tuple[Incident, str, dict[str, Any], str]:
    """(new state, event text, event data, warning or "") for `postmortem <id> [facilitator]`."""
    changed = lifecycle.start_review(incident, at)
    roles = took_part(facilitator, incident, timeline) if facilitator else []
    text = f"{by} started the post-incident review" + (f", facilitated by {facilitator}" if facilitator else "")
    warning = ""
    if roles:
        warning = (
            f"{facilitator} took part in the response ({', '.join(roles)}); a blameless review is best facilitated "
            "by someone who was not"
        )
        text += f" (warning: {warning})"
    data = {"from": incident.status, "to": changed.status, "facilitator": facilitator, "took_part": roles}
    return changed, text, data, warning


def close(incident: Incident, policy: ReviewPolicy, by: str, at: datetime) -> tuple[Incident, str, dict[str, Any]]:
    """(new state, event text, event data) for `close <id>`; refused for a review-required incident not reviewed."""
    changed = lifecycle.close(incident, policy.requires_review(incident), at)
    reviewed = " after its review" if incident.status == "postmortem" else ""
    return changed, f"{by} closed the incident{reviewed}", {"from": incident.status, "to": changed.status}
