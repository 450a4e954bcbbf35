"""A Teams activity-feed notification to one paged person through Microsoft Graph (`teams_activity` rule steps):
`POST /users/{aad_object_id}/teamwork/sendActivityNotification`, through the Graph client incident channels use
(shared.channels.graph: its token, retries and faults).

The body uses the reserved `systemDefault` activity type, so the Teams app's manifest needs no activity types: the
`systemDefaultText` template parameter is the free text of the notification's Actor+Reason line, `previewText` the
line under it (Teams shows 150 characters), and the topic is plain text with the link opened when the person selects
it (required for a text topic): their signed acknowledgement link when Firebell can issue one. `chainId`, derived
from the rule step, makes a retry after a lost answer replace the notification it may have sent rather than add a
second one. Where the tenant does not allow it (the app not installed for the user, no TeamsActivity.Send consent)
Graph refuses with a 4xx: the step fails and the person's next step goes out at once.
"""

from __future__ import annotations

import hashlib
from typing import Any

from shared.contacts.errors import ContactRejected, ContactUnavailable
from shared.incidents.incident import Incident

ACTIVITY_TYPE = "systemDefault"
PREVIEW_LIMIT = 150
TEAMS_HOME = "https://teams.microsoft.com/"  # where selecting the notification leads without an acknowledgement link


def notification(
    incident: Incident | None, severity_label: str, link: str | None, chain: str, teams_app_id: str
) -> dict[str, Any]:
    """The request body; `incident` None is a test page. `chain` names the rule step (its ledger key)."""
    if incident is None:
        topic, reason = "Firebell test page", "Firebell test page: this is how a page reaches you in Teams"
        preview = "No action needed."
    else:
        drill = "DRILL " if incident.drill else ""
        topic = f"{drill}{severity_label} {incident.id}"
        reason = f"Firebell paged you: {drill}{severity_label} {incident.id}"
        title = incident.title
        preview = title if len(title) <= PREVIEW_LIMIT else title[: PREVIEW_LIMIT - 3] + "..."
    return {
        "topic": {"source": "text", "value": topic, "webUrl": link or TEAMS_HOME},
        "activityType": ACTIVITY_TYPE,
        "previewText": {"content": preview},
        "templateParameters": [{"name": "systemDefaultText", "value": reason}],
        "chainId": chain_id(chain),
        "teamsAppId": teams_app_id,
    }


def chain_id(chain: str) -> int:
    """A positive Int64 from the step's key: the same for every attempt of one step, different between steps."""
    return int(hashlib.sha256(chain.encode()).hexdigest()[:15], 16)


def send(graph: Any, user_id: str, body: dict[str, Any]) -> None:
    """Raises ContactRejected (Graph refused: retrying cannot help) or ContactUnavailable (throttled or down)."""
    from shared.channels.graph import GraphRejected, GraphUnavailable

    try:
        graph.notify_user(user_id, body)
    except GraphRejected as refusal:
        raise ContactRejected(f"Teams refused the activity notification: {refusal.detail}") from None
    except GraphUnavailable as outage:
        raise ContactUnavailable(outage.detail, outage.retry_after) from None
