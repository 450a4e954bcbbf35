"""Notification cards for the Teams channel: Adaptive Cards (1.5) in the Workflows webhook envelope. Pure.

One builder per moment a channel must hear about: someone paged (the incident opened or escalated), acknowledged,
a role handed off or assigned, resolved, an overdue public update, and escalation exhausted. Every card names the
incident, its severity, title and service, and links the runbook, the status page and the Boards work item as
`Action.OpenUrl` buttons (http/https only). Words from alerts and people are truncated and made inert for Markdown,
so a card always stays under the Workflows limit of 28 KB. The paged or reminded person is @mentioned when their
Teams identity is known (`msteams.entities`, a Teams-only extension that plain Adaptive Card validators reject).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shared.catalog.severity import label
from shared.core.links import is_web_url, site_address
from shared.core.settings import DEVELOPMENT_ID_KEY
from shared.core.text import clean
from shared.core.timeutil import iso
from shared.incidents.drill import LABEL, labelled
from shared.incidents.incident import Incident
from shared.incidents.roles import TITLES
from shared.statuspage.public_ids import public_id
from shared.teams.reply import plain

CARD_VERSION = "1.5"  # the highest version Teams renders
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_MESSAGE_BYTES = 28 * 1024  # Workflows webhook limit for the whole message
# Card kinds: also the ledger's name for what was sent, so they never change once deployed.
PAGED, ACKNOWLEDGED, ROLE, RESOLVED, REMINDER, EXHAUSTED, REVIEW = (
    "paged",
    "acknowledged",
    "role",
    "resolved",
    "reminder",
    "exhausted",
    "review",
)
FOLLOW_UP = "followup"
KINDS = (PAGED, ACKNOWLEDGED, ROLE, RESOLVED, REMINDER, EXHAUSTED, REVIEW, FOLLOW_UP)
# Character budgets per field: generous for people, and small enough that the worst case (every field full of
# 4-byte characters) still fits 28 KB. `_fit` halves them if a card ever does not fit anyway.
_TITLE_CHARS, _TEXT_CHARS, _NAME_CHARS = 240, 600, 100
_ELLIPSIS = "…"


@dataclass(frozen=True)
class Recipient:
    """Someone a card is about; `mention_id` (Entra object id, UPN/email or Teams id) lets Teams @mention them."""

    name: str
    mention_id: str | None = None

    @classmethod
    def of(cls, person: Any) -> Recipient:
        """From any person record with a `name` and optionally `aad_object_id`, `email`, `teams_id` (people.toml)."""
        for attribute in ("aad_object_id", "email", "teams_id"):
            value = getattr(person, attribute, None)
            if isinstance(value, str) and value.strip():
                return cls(person.name, value.strip())
        return cls(person.name)


@dataclass(frozen=True)
class IncidentLinks:
    runbook: str | None = None
    status_page: str | None = None
    work_item: str | None = None
    channel: str | None = None  # the incident's own Teams channel (shared.channels), once made


def incident_links(
    incident: Incident,
    runbook_url: str | None,
    status_page_url: str | None,
    id_key: bytes = DEVELOPMENT_ID_KEY.encode(),
    public: bool = True,
) -> IncidentLinks:
    """The buttons every card carries: the service's runbook, the incident's status page, its Boards work item.

    The status page is the incident's page under its public id (it appears there once the publication policy lets
    it, e.g. at acknowledgement); an internal service's incident (`public` False) and a drill have none."""
    page = None
    if public and not incident.drill and is_web_url(status_page_url):
        page = site_address(status_page_url, f"incidents/{public_id(incident.id, id_key)}.html")
    return IncidentLinks(
        runbook=runbook_url, status_page=page, work_item=incident.work_item_url, channel=incident.channel_url
    )


# --- the cards ----------------------------------------------------------------------------------------------------


def paged_card(incident: Incident, person: Recipient, why: str, links: IncidentLinks) -> dict[str, Any]:
    """Someone is paged for the incident (the first escalation step is the "incident opened" card)."""
    headline = f"Paging {_who(person)}: {incident.id} needs a responder. Acknowledge with `ack {incident.id}`."
    facts = [("Paged", _name(person.name)), ("Why", _text(why))]
    return _message(incident, PAGED, headline, facts, links, [person], f"paging {person.name} ({why})")


def acknowledged_card(incident: Incident, by: Recipient, links: IncidentLinks) -> dict[str, Any]:
    headline = f"{_who(by)} acknowledged {incident.id}; escalation stops."
    facts = [("Acknowledged by", _name(", ".join(incident.acknowledged_by) or by.name))]
    return _message(incident, ACKNOWLEDGED, headline, facts, links, [by], f"acknowledged by {by.name}")


def role_card(
    incident: Incident, role: str, person: Recipient, previous: str | None, links: IncidentLinks
) -> dict[str, Any]:
    """A role was assigned or handed off (commander, communications)."""
    title = TITLES.get(role, role)
    instead = f" (taking over from {_name(previous)})" if previous else ""
    headline = f"{_who(person)} is {title.lower()} of {incident.id}{instead}."
    facts = [(title, _name(person.name))] + ([("Before", _name(previous))] if previous else [])
    return _message(incident, ROLE, headline, facts, links, [person], f"{person.name} is {title.lower()}")


def resolved_card(incident: Incident, by: str, summary: str, links: IncidentLinks) -> dict[str, Any]:
    headline = f"{incident.id} is resolved" + (f" by {_name(by)}" if by else "") + "."
    facts = [("Summary", _text(summary))] if summary else []
    if incident.resolved_at is not None:
        facts.append(("Duration", _duration(incident.resolved_at - incident.detected_at)))
    return _message(incident, RESOLVED, headline, facts, links, [], "resolved")


def reminder_card(
    incident: Incident, recipients: Sequence[Recipient], promised_at: datetime, now: datetime, links: IncidentLinks
) -> dict[str, Any]:
    """The public update promised for `promised_at` is overdue: remind the commander and communications."""
    late = _duration(now - promised_at)
    whom = ", ".join(_who(person) for person in recipients) or "Commander and communications (nobody assigned)"
    headline = f"{whom}: the public update promised for {iso(promised_at)} is {late} overdue. Post one with " + (
        f"`update {incident.id} …`."
    )
    facts = [("Promised by", iso(promised_at)), ("Overdue", late)]
    return _message(incident, REMINDER, headline, facts, links, list(recipients), f"public update {late} overdue")


def follow_up_card(
    incident: Incident, owner: Recipient, text: str, due: date, now: datetime, task_url: str, links: IncidentLinks
) -> dict[str, Any]:
    """A follow-up is past its due date and its Boards task is not done: remind its owner."""
    days = max(1, (now.date() - due).days)
    late = f"{days} day{'s' if days != 1 else ''}"
    headline = (
        f"{_who(owner)}: your follow-up of {incident.id} was due {due.isoformat()} ({late} ago). "
        "Close its Boards task when it is done; Firebell reminds you daily until then."
    )
    facts = [("Follow-up", _text(text)), ("Owner", _name(owner.name)), ("Due", due.isoformat())]
    task = IncidentLinks(
        links.runbook, links.status_page, task_url if is_web_url(task_url) else links.work_item, links.channel
    )
    return _message(incident, FOLLOW_UP, headline, facts, task, [owner], f"follow-up overdue since {due.isoformat()}")


def exhausted_card(incident: Incident, why: str, notified: Sequence[str], links: IncidentLinks) -> dict[str, Any]:
    """Every escalation step and round ran and nobody acknowledged: the escalation channel must act."""
    headline = f"Nobody has acknowledged {incident.id} after every escalation step. Someone must take it now."
    facts = [("Escalation", _text(why)), ("Paged so far", _name(", ".join(notified)) if notified else "nobody")]
    return _message(incident, EXHAUSTED, headline, facts, links, [], "escalation exhausted, unacknowledged")


def review_card(incident: Incident, draft_url: str, links: IncidentLinks) -> dict[str, Any]:
    """The blameless review's draft is ready to read (once per incident; later re-drafts update it in place)."""
    headline = f"The post-incident review draft of {incident.id} is ready: read it before the review meeting."
    message = _message(incident, REVIEW, headline, [], links, [], "review draft ready")
    if is_web_url(draft_url):
        card_of(message)["actions"].append({"type": "Action.OpenUrl", "title": "Review draft", "url": draft_url})
    return message


# --- envelope, size and validation helpers -------------------------------------------------------------------------


def test_page_card(person: Recipient) -> dict[str, Any]:
    """A harmless test (`test-page`): how a page reaches this person in Teams; no incident, nothing to do."""
    text = f"Firebell test page for {_who(person)}: this is how a page reaches you in Teams. No action needed."
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "fallbackText": plain(f"Firebell test page for {person.name}"),
        "body": [{"type": "TextBlock", "text": text, "wrap": True}],
        "msteams": {"width": "Full", "entities": _mentions([person])},
    }
    return {"type": "message", "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}]}


def encode(message: dict[str, Any]) -> bytes:
    """The exact bytes posted to the webhook (and counted against its 28 KB limit)."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    (attachment,) = message["attachments"]
    return attachment["content"]


def without_teams_extensions(value: Any) -> Any:
    """The card as plain Adaptive Card (what the 1.5 schema validates): Teams-only `msteams` properties removed."""
    if isinstance(value, dict):
        return {key: without_teams_extensions(item) for key, item in value.items() if key != "msteams"}
    if isinstance(value, list):
        return [without_teams_extensions(item) for item in value]
    return value


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut before a combining mark never after it, and marked with an ellipsis. Cleaned
    by the text policy: a lone surrogate from a row stored before it would make the card unencodable on every
    delivery (shared.core.text)."""
    text = clean(text)
    text = " ".join(text.split()) if len(text) > limit else text
    if len(text) <= limit:
        return text
    cut = max(0, limit - 1)
    while cut > 0 and unicodedata.combining(text[cut]):
        cut -= 1
    return text[:cut] + _ELLIPSIS


def _message(
    incident: Incident,
    kind: str,
    headline: str,
    facts: list[tuple[str, str]],
    links: IncidentLinks,
    mentioned: list[Recipient],
    summary: str,
) -> dict[str, Any]:
    for budget in (1, 2, 4, 8):  # the per-field budgets fit by design; halving them is the belt to those braces
        message = _build(incident, kind, headline, facts, links, mentioned, summary, budget)
        if len(encode(message)) <= MAX_MESSAGE_BYTES:
            return message
    raise ValueError(f"{incident.id}: a {kind} card does not fit {MAX_MESSAGE_BYTES} bytes")


def _build(
    incident: Incident,
    kind: str,
    headline: str,
    facts: list[tuple[str, str]],
    links: IncidentLinks,
    mentioned: list[Recipient],
    summary: str,
    shrink: int,
) -> dict[str, Any]:
    title = plain(shorten(incident.title, _TITLE_CHARS // shrink))
    fallback = labelled(f"{incident.id} {label(incident.severity)} {incident.title}: {summary}", incident.drill)
    heading = labelled(f"{incident.id} · {label(incident.severity)} · {title}", incident.drill)
    all_facts = [
        ("Incident", incident.id),
        ("Severity", label(incident.severity)),
        ("Service", plain(shorten(incident.service, _NAME_CHARS // shrink))),
        ("Status", incident.status),
        ("Detected", iso(incident.detected_at)),
        *([(LABEL.title(), "an exercise: not on the status page, not in the metrics")] if incident.drill else []),
        *[(name, shorten(value, _TEXT_CHARS // shrink)) for name, value in facts],
    ]
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "fallbackText": plain(shorten(fallback, 300)),
        "body": [
            {
                "type": "Container",
                "style": _STYLE.get(kind) or ("attention" if incident.severity <= 2 else "warning"),
                "bleed": True,
                "items": [
                    {"type": "TextBlock", "text": heading, "weight": "Bolder", "size": "Medium", "wrap": True},
                    {"type": "TextBlock", "text": _KIND_TITLES[kind], "isSubtle": True, "spacing": "None"},
                ],
            },
            {"type": "TextBlock", "text": shorten(headline, _TEXT_CHARS // shrink), "wrap": True},
            {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in all_facts]},
        ],
        "actions": _actions(links),
        "msteams": {"width": "Full", "entities": _mentions(mentioned)},
    }
    if not card["msteams"]["entities"]:
        del card["msteams"]["entities"]
    return {"type": "message", "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}]}


_KIND_TITLES = {
    PAGED: "Paging",
    ACKNOWLEDGED: "Acknowledged",
    ROLE: "Role",
    RESOLVED: "Resolved",
    REMINDER: "Public update overdue",
    EXHAUSTED: "Escalation exhausted",
    REVIEW: "Post-incident review",
    FOLLOW_UP: "Follow-up overdue",
}
_STYLE = {ACKNOWLEDGED: "accent", ROLE: "emphasis", RESOLVED: "good", EXHAUSTED: "attention", REVIEW: "emphasis"}


def _actions(links: IncidentLinks) -> list[dict[str, Any]]:
    buttons = [("Runbook", links.runbook), ("Status page", links.status_page), ("Boards work item", links.work_item)]
    buttons.append(("Incident channel", links.channel))
    return [{"type": "Action.OpenUrl", "title": title, "url": url} for title, url in buttons if url and is_web_url(url)]


def _mentions(people: list[Recipient]) -> list[dict[str, Any]]:
    entities = []
    for person in dict.fromkeys(people):
        if person.mention_id:
            entities.append(
                {
                    "type": "mention",
                    "text": _at(person.name),
                    "mentioned": {"id": person.mention_id, "name": _mention_name(person.name)},
                }
            )
    return entities


def _who(person: Recipient) -> str:
    """The person in running text: a Teams mention when they can be mentioned, else their name, inert."""
    return _at(person.name) if person.mention_id else _name(person.name)


def _at(name: str) -> str:
    return f"<at>{_mention_name(name)}</at>"


def _mention_name(name: str) -> str:
    # The mention text must equal the entity's text exactly; angle brackets would end the <at> tag early.
    return shorten(name.replace("<", "").replace(">", ""), _NAME_CHARS)


def _name(name: str) -> str:
    return plain(shorten(name, _NAME_CHARS))


def _text(text: str) -> str:
    return plain(shorten(text, _TEXT_CHARS))


def _duration(span: Any) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
