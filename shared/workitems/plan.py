"""An incident's Azure Boards work item and its follow-up tasks: what the events of a change ask of Boards, the
JSON Patch documents that say it, and the timeline events that record it. Pure: no SDK, no storage.

Each work item carries a unique tag (`firebell-INC-7-incident`, `firebell-INC-7-action-<digest>`), so a delivery
that crashed after Boards created the item but before Firebell recorded it finds the item again (WIQL) instead of
creating a second one. The tags end in a fixed word so that no tag is a prefix of another (`…INC-7…` vs `…INC-70…`).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from shared.catalog.services import Service
from shared.catalog.severity import label
from shared.core.links import is_web_url, site_address
from shared.core.settings import DEVELOPMENT_ID_KEY
from shared.core.timeutil import iso
from shared.incidents.drill import labelled
from shared.incidents.incident import RESOLVED, Incident
from shared.incidents.timeline import (
    ALERT_FIRED,
    CHANNEL_CREATED,
    FOLLOW_UP_ADDED,
    INCIDENT_DECLARED,
    SEVERITY_CHANGED,
    STATUS_CHANGED,
    WORK_ITEM_CREATED,
    WORK_ITEM_FAILED,
    WORK_ITEM_UPDATED,
    TimelineEvent,
    event_id,
)
from shared.statuspage.public_ids import public_id
from shared.workitems.config import BoardsConfig

TITLE_FIELD, DESCRIPTION_FIELD = "System.Title", "System.Description"
PRIORITY_FIELD = "Microsoft.VSTS.Common.Priority"  # 1 (most important) … 4, in every built-in process
TAGS_FIELD, AREA_FIELD, STATE_FIELD = "System.Tags", "System.AreaPath", "System.State"
ASSIGNED_TO_FIELD = "System.AssignedTo"
PARENT_LINK = "System.LinkTypes.Hierarchy-Reverse"  # from the child: "my parent is …"
TITLE_LIMIT = 255  # System.Title's maximum length
OPENING_KINDS = (ALERT_FIRED, INCIDENT_DECLARED)
ACTOR, SOURCE = "Firebell", "azure-boards"
_SOURCE_WORDS = {
    "monitoring": "monitoring",
    "customer": "a customer report",
    "slo": "SLO tooling",
    "person": "a person",
}


# --- identities -----------------------------------------------------------------------------------------------------
def incident_tag(incident_id: str) -> str:
    return f"firebell-{incident_id}-incident"


def follow_up_key(action_event_id: str) -> str:
    """A short, stable name for one follow-up: tag suffix and ledger key (event ids may hold any character)."""
    return "action-" + _digest(action_event_id)


def comment_key(resolution: TimelineEvent) -> str:
    """The ledger key of one resolution's comment."""
    return "comment-" + _digest(resolution.event_id)


def follow_up_tag(incident_id: str, action_event_id: str) -> str:
    return f"firebell-{incident_id}-{follow_up_key(action_event_id)}"


def comment_marker(event: TimelineEvent) -> str:
    """Text every resolution comment ends with: finding it means the comment was written already."""
    return f"Firebell event {event.event_id}"


def priority(severity: int) -> int:
    """SEV1 → priority 1 … SEV4 → priority 4: the scales line up one to one."""
    return severity


def item_title(incident: Incident) -> str:
    return _clip(labelled(f"{incident.id} [{label(incident.severity)}] {incident.title}", incident.drill))


def web_url(org_url: str, project: str, work_item_id: int) -> str:
    """Where people open the work item (not the REST URL)."""
    return f"{org_url.rstrip('/')}/{quote(project, safe='')}/_workitems/edit/{work_item_id}"


def api_url(org_url: str, work_item_id: int) -> str:
    """The REST address Boards expects in a relation's `url`."""
    return f"{org_url.rstrip('/')}/_apis/wit/workItems/{work_item_id}"


# --- links and the description ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Links:
    incident_api: str | None = None
    status_page: str | None = None
    runbook: str | None = None


def incident_links(
    incident: Incident,
    service: Service | None,
    api_base_url: str,
    status_page_url: str,
    id_key: bytes = DEVELOPMENT_ID_KEY.encode(),
) -> Links:
    """Links for responders: the incident in Firebell's API, its page on the status site (under its public id; none
    for an internal service), the service's runbook."""
    api = f"{api_base_url.rstrip('/')}/incidents/{incident.id}" if is_web_url(api_base_url) else None
    public = service is None or service.public
    page = None
    if public and is_web_url(status_page_url):
        page = site_address(status_page_url, f"incidents/{public_id(incident.id, id_key)}.html")
    runbook = service.runbook_url if service is not None and is_web_url(service.runbook_url) else None
    return Links(incident_api=api, status_page=page, runbook=runbook)


_DESCRIPTION = """\
<p><b>What happened:</b> {{ what }}</p>
<ul>
<li><b>Service:</b> {{ service }}</li>
<li><b>Severity:</b> {{ severity }}</li>
<li><b>Detected:</b> {{ detected }} by {{ how }}{% if detail %} ({{ detail }}){% endif %}</li>
{% if impact %}<li><b>Customer impact:</b> {{ impact }}</li>
{% endif %}</ul>
{% if links %}<p>{% for text, url in links %}<a href="{{ url }}">{{ text }}</a>{% if not loop.last %} · {% endif %}\
{% endfor %}</p>
{% endif %}<p>Opened by Firebell. Status changes, severity and follow-ups of {{ ident }} are kept in step here.</p>"""

_FOLLOW_UP = """\
<p>{{ text }}</p>
<p>Follow-up of {% if incident_api %}<a href="{{ incident_api }}">{{ ident }}</a>{% else %}{{ ident }}{% endif %} \
({{ title }}), added by {{ added_by }} on {{ at }}{% if owner != added_by %} for {{ owner }}{% endif %}\
{% if due %}, due {{ due }}{% endif %}.</p>"""

_RESOLUTION = """\
<p>{{ ident }} was resolved on {{ at }} by {{ who }}.</p>
<p>{{ text }}</p>
<p><small>{{ marker }}</small></p>"""


_CHANNEL = """\
<p>{{ ident }}'s own Teams channel: <a href="{{ url }}">{{ name }}</a></p>
<p><small>{{ marker }}</small></p>"""


def channel_comment(incident: Incident, event: TimelineEvent) -> str:
    """The incident's channel on its work item (shared.channels): a comment, found again by its marker."""
    url = str(event.data.get("url") or "")
    name = str(event.data.get("name") or "channel")
    return _template(_CHANNEL).render(
        ident=incident.id, url=url if is_web_url(url) else "", name=name, marker=comment_marker(event)
    )


@functools.cache
def _template(source: str) -> Any:
    # Autoescaped like every HTML Firebell renders: alert text and titles never become markup in Boards.
    from jinja2 import Environment  # loads with the first work item, not at every function's cold start

    return Environment(autoescape=True, keep_trailing_newline=False).from_string(source)


def description_html(incident: Incident, service: Service | None, links: Links) -> str:
    labelled = [("Incident " + incident.id, links.incident_api), ("Status page", links.status_page)]
    labelled.append(("Runbook", links.runbook))
    return _template(_DESCRIPTION).render(
        what=incident.description or incident.title,
        service=f"{service.component} ({service.id})" if service is not None else incident.service,
        severity=label(incident.severity),
        detected=iso(incident.detected_at),
        how=_SOURCE_WORDS.get(incident.source, incident.source),
        detail=incident.source_detail,
        impact=incident.customer_impact,
        links=[(text, url) for text, url in labelled if url],
        ident=incident.id,
    )


# --- JSON Patch documents -------------------------------------------------------------------------------------------
def incident_item_document(
    incident: Incident, service: Service | None, config: BoardsConfig, links: Links
) -> list[dict[str, Any]]:
    """The new work item: title, HTML description, priority, tags and (from the catalog) area path."""
    document = [
        _add(TITLE_FIELD, item_title(incident)),
        _add(config.description_field, description_html(incident, service, links)),
        _add(PRIORITY_FIELD, priority(incident.severity)),
        _add(TAGS_FIELD, _tags("firebell", incident.id, incident.service, incident_tag(incident.id))),
    ]
    if service is not None and service.area_path:
        document.append(_add(AREA_FIELD, service.area_path))
    return document


def severity_document(incident: Incident) -> list[dict[str, Any]]:
    """A severity change: the priority follows, and so does the `[SEVn]` in the title."""
    return [_replace(PRIORITY_FIELD, priority(incident.severity)), _replace(TITLE_FIELD, item_title(incident))]


def state_document(state: str) -> list[dict[str, Any]]:
    return [_replace(STATE_FIELD, state)]


@dataclass(frozen=True)
class FollowUp:
    event: TimelineEvent
    text: str
    owner: str  # `owner:` of ChatOps `action`, else who added it: a person's name, as Teams or people.toml spell it
    due: date | None = None

    @property
    def key(self) -> str:
        return follow_up_key(self.event.event_id)


def follow_up_document(
    incident: Incident,
    follow_up: FollowUp,
    parent_api_url: str,
    owner_email: str | None,
    area_path: str | None,
    links: Links,
    due_date_field: str = "Microsoft.VSTS.Scheduling.DueDate",
) -> list[dict[str, Any]]:
    """The child Task: its words, the incident's tags, its owner when people.toml knows their email, its due date,
    and the link up to the incident's work item."""
    description = _template(_FOLLOW_UP).render(
        text=follow_up.text,
        incident_api=links.incident_api,
        ident=incident.id,
        title=incident.title,
        owner=follow_up.owner,
        added_by=follow_up.event.actor,
        at=iso(follow_up.event.at),
        due=follow_up.due.isoformat() if follow_up.due else None,
    )
    document = [
        _add(TITLE_FIELD, _clip(follow_up.text)),
        _add(DESCRIPTION_FIELD, description),
        _add(TAGS_FIELD, _tags("firebell", incident.id, follow_up_tag(incident.id, follow_up.event.event_id))),
    ]
    if owner_email:
        document.append(_add(ASSIGNED_TO_FIELD, owner_email))
    if follow_up.due is not None:
        document.append(_add(due_date_field, due_instant(follow_up.due)))
    if area_path:
        document.append(_add(AREA_FIELD, area_path))
    relation = {"rel": PARENT_LINK, "url": parent_api_url, "attributes": {"comment": f"Follow-up of {incident.id}"}}
    document.append({"op": "add", "path": "/relations/-", "value": relation})
    return document


def due_instant(due: date) -> str:
    """A date as Boards' DateTime: noon UTC, so every viewer from UTC−11 to UTC+11 sees the same calendar day."""
    return f"{due.isoformat()}T12:00:00Z"


def without_field(document: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    return [operation for operation in document if operation["path"] != f"/fields/{field}"]


def resolution_comment(incident: Incident, event: TimelineEvent) -> str:
    return _template(_RESOLUTION).render(
        ident=incident.id, at=iso(event.at), who=event.actor, text=event.text, marker=comment_marker(event)
    )


# --- what a change asks of Boards ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """What one queue message asks of Boards, decided on the incident's current state (so messages that arrive out
    of order converge on the same work item)."""

    incident: Incident
    cause: TimelineEvent | None = None  # the latest listed event that matters: names the notes written about it
    ensure_item: bool = False
    update_severity: bool = False
    state: str | None = None  # the Boards state the item moves to (from the incident's current status)
    resolutions: tuple[TimelineEvent, ...] = ()  # each gets one comment
    follow_ups: tuple[FollowUp, ...] = ()
    channels: tuple[TimelineEvent, ...] = ()  # the incident's Teams channel made: its link goes on the item

    @property
    def empty(self) -> bool:
        return not self.ensure_item


def plan(incident: Incident, timeline: list[TimelineEvent], event_ids: list[str], config: BoardsConfig) -> Plan:
    """The Boards work a message's events ask for.

    The incident's opening (a declaration, or an alert firing) creates its work item when the incident is severe
    enough; so does any later event that needs the item (a severity raised into the threshold, a resolution, a
    follow-up). Any firing a change carries counts, not only the timeline's first event: that may be another
    consumer's note named at the opening's instant, or an alert that fired earlier and joined later (joins reach
    Boards only with a change of state). Asking for an item that exists costs nothing.
    An incident that never was severe enough and has no item is left alone, and so is a drill unless configured.
    """
    if incident.drill and not config.drills:
        return Plan(incident)  # drills stay off the board unless boards.toml says `drills = true`
    wanted = set(event_ids)
    events = [event for event in timeline if event.event_id in wanted]
    tracked = incident.work_item_id is not None or config.creates_item(incident.severity)
    relevant = [
        event
        for event in events
        if event.kind in (*OPENING_KINDS, SEVERITY_CHANGED, FOLLOW_UP_ADDED, CHANNEL_CREATED)
        or _status_change(event, config)
    ]
    if not tracked or not relevant:
        return Plan(incident)
    status_changes = [event for event in relevant if event.kind == STATUS_CHANGED]
    follow_ups = tuple(
        FollowUp(
            event,
            str(event.data.get("text") or event.text),
            str(event.data.get("owner") or event.actor),
            _date(event.data.get("due")),
        )
        for event in relevant
        if event.kind == FOLLOW_UP_ADDED
    )
    return Plan(
        incident=incident,
        # The latest change that is not a firing names what is done (a timeline's later joins do not rename it).
        cause=next((event for event in reversed(relevant) if event.kind not in OPENING_KINDS), relevant[-1]),
        ensure_item=True,
        update_severity=any(event.kind == SEVERITY_CHANGED for event in relevant),
        state=config.state_for(incident.status) if status_changes else None,
        resolutions=tuple(event for event in status_changes if event.data.get("to") == RESOLVED),
        follow_ups=follow_ups,
        channels=tuple(event for event in relevant if event.kind == CHANNEL_CREATED),
    )


def _status_change(event: TimelineEvent, config: BoardsConfig) -> bool:
    if event.kind != STATUS_CHANGED:
        return False
    to = event.data.get("to")
    return to == RESOLVED or config.state_for(str(to)) is not None


# --- the record on the timeline --------------------------------------------------------------------------------------
def created_event(
    incident: Incident, work_item_id: int, url: str, at: datetime, follow_up: FollowUp | None = None
) -> TimelineEvent:
    """The item exists in Boards and Firebell knows it. The id comes from the ledger's time, so recording again after
    a crash writes the same row."""
    if follow_up is None:
        text = f"Azure Boards work item {work_item_id} tracks this incident: {url}"
        discriminator, data = "workitem-created", {"work_item_id": work_item_id, "url": url}
    else:
        text = f"Azure Boards work item {work_item_id} tracks the follow-up “{_clip(follow_up.text, 120)}”: {url}"
        discriminator = f"workitem-{follow_up.key}"
        data = {"work_item_id": work_item_id, "url": url, "follow_up": follow_up.event.event_id}
    return _event(incident, event_id(at, discriminator), WORK_ITEM_CREATED, at, text, data)


def updated_event(incident: Incident, cause: TimelineEvent, step: str, what: str, now: datetime) -> TimelineEvent:
    """One row per cause and step ("severity", "state", "comment"), however often the message is delivered."""
    digest = _digest(f"{cause.event_id}/{step}")
    text = f"Azure Boards work item {incident.work_item_id}: {what}"
    data = {"work_item_id": incident.work_item_id, "cause": cause.event_id, "step": step}
    return _event(incident, event_id(cause.at, f"workitem-updated-{digest}"), WORK_ITEM_UPDATED, now, text, data)


def failed_event(incident: Incident, cause: TimelineEvent | None, text: str, now: datetime, step: str) -> TimelineEvent:
    """`text` starts "work item not created: …" or "work item not updated: …". One row per cause and step."""
    anchor = cause.at if cause is not None else incident.declared_at
    digest = _digest(f"{cause.event_id if cause else ''}/{step}")
    data = {"step": step, **({"cause": cause.event_id} if cause else {})}
    return _event(incident, event_id(anchor, f"workitem-failed-{digest}"), WORK_ITEM_FAILED, now, text, data)


NOT_CONFIGURED = "Azure Boards not configured: set AZURE_DEVOPS_ORG_URL and AZURE_DEVOPS_PROJECT to track incidents"


def not_configured_event(incident: Incident, now: datetime) -> TimelineEvent:
    """Said once per incident: the id is anchored to the incident's opening."""
    anchor = event_id(incident.declared_at, "workitem-not-configured")
    return _event(incident, anchor, WORK_ITEM_FAILED, now, NOT_CONFIGURED, {"step": "configuration"})


# --- helpers --------------------------------------------------------------------------------------------------------
def _event(incident: Incident, ident: str, kind: str, at: datetime, text: str, data: dict[str, Any]) -> TimelineEvent:
    return TimelineEvent(
        incident_id=incident.id,
        event_id=ident,
        kind=kind,
        at=at,
        recorded_at=at,
        actor=ACTOR,
        source=SOURCE,
        text=text,
        data=data,
    )


def _add(field: str, value: Any) -> dict[str, Any]:
    return {"op": "add", "path": f"/fields/{field}", "value": value}


def _replace(field: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": f"/fields/{field}", "value": value}


def _tags(*tags: str) -> str:
    # Boards separates tags with ';' and has no escaping: the separators are taken out of the words themselves.
    cleaned = [tag.replace(";", " ").replace(",", " ").strip() for tag in tags]
    return "; ".join(dict.fromkeys(tag for tag in cleaned if tag))


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _clip(text: str, limit: int = TITLE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
