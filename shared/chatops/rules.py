"""ChatOps: what a Teams command does to an incident, and what Firebell answers. Pure decisions, no storage.

Every message addressed to Firebell that names an incident becomes one timeline event — commands, refusals and
plain talk alike — with its author and time: the scribe never sleeps. The event id comes from the Teams message
id, so a redelivered message is recorded once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.catalog.services import Service
from shared.catalog.severity import label
from shared.chatops import grammar
from shared.core.errors import InvalidInput
from shared.core.timeutil import iso
from shared.incidents import lifecycle, roles
from shared.incidents.incident import ACKNOWLEDGED, INVESTIGATING, TRIGGERED, Incident
from shared.incidents.timeline import ACKNOWLEDGED as ACKNOWLEDGED_KIND
from shared.incidents.timeline import (
    CHANNEL_REQUESTED,
    CHAT_MESSAGE,
    COMPONENT_STATUS_SET,
    FOLLOW_UP_ADDED,
    MILESTONE_CORRECTED,
    NOTE,
    PAGE_REQUESTED,
    ROLE_ASSIGNED,
    ROLE_HANDED_OFF,
    ROLE_RELEASED,
    SEVERITY_CHANGED,
    STATUS_CHANGED,
    TimelineEvent,
    event_id,
)
from shared.incidents.timeline import PUBLIC_UPDATE as UPDATE_POSTED
from shared.postmortems import review
from shared.postmortems.policy import ReviewPolicy
from shared.teams.reply import card_reply, plain, text_reply

_VIA = {"sms": "SMS reply", "ack-link": "acknowledgement link", "voice": "keypress on a call"}
TIMELINE_SHOWN = 15  # events in a `timeline` reply: the latest ones, enough for a catch-up


@dataclass(frozen=True)
class Said:
    """One message addressed to Firebell: the words, who said them, when, and Teams' id for the message."""

    text: str
    speaker: str
    at: datetime  # when Firebell received it: the time of the changes it makes
    message_id: str
    sent_at: datetime | None = None  # Teams' own (signed) timestamp: a redelivery keeps it, so it names the event
    via: str = ""  # how it reached Firebell when not in Teams: "sms", "ack-link", "voice" (the timeline says so)


@dataclass(frozen=True)
class Context:
    """What some replies need beyond the incident: its service, the site's address, the timeline."""

    service: Service | None = None
    status_page_url: str = ""
    timeline: tuple[TimelineEvent, ...] = ()
    review: ReviewPolicy = field(default_factory=ReviewPolicy)  # which severities need a review before closing


@dataclass(frozen=True)
class Decision:
    reply: dict[str, Any]
    incident_id: str | None = None
    changed: Incident | None = None  # the new state to save (ETag-guarded); None when the state stays
    events: tuple[TimelineEvent, ...] = field(default_factory=tuple)


def decide(command: grammar.Command, incident: Incident | None, said: Said, context: Context) -> Decision:
    """Apply a command to its incident (already loaded by the caller). Refusals are recorded, not raised."""
    if incident is None:
        return _without_incident(command)
    try:
        changed, kind, text, data, reply = _apply(command, incident, said, context)
    except InvalidInput as refusal:
        event = _event(incident, said, CHAT_MESSAGE, f"{said.speaker}: {said.text} (refused: {refusal.detail})")
        return Decision(text_reply(f"**{incident.id}**: {plain(refusal.detail)}"), incident.id, None, (event,))
    event = _event(incident, said, kind, text, data, public=kind == UPDATE_POSTED)
    return Decision(reply, incident.id, changed, (event,))


def incident_id_of(command: grammar.Command) -> str | None:
    return getattr(command, "incident_id", None)


def _apply(
    command: grammar.Command, incident: Incident, said: Said, context: Context
) -> tuple[Incident | None, str, str, dict[str, Any], dict[str, Any]]:
    """(new state or None, event kind, event text, event data, reply) for a command on an incident."""
    who, at, ident = said.speaker, said.at, incident.id
    match command:
        case grammar.Ack():
            changed, kind, text, data, reply = _acknowledge(incident, who, at)
            if said.via:  # from the page itself: the timeline says how
                text += f" by {_VIA.get(said.via, said.via)}"
                data = {**data, "via": said.via}
            return changed, kind, text, data, reply
        case grammar.SetSeverity(severity=severity):
            if severity == incident.severity:
                raise InvalidInput(f"{ident} is already {label(severity)}")
            changed = incident.changed(at, severity=severity)
            text = f"{who} changed the severity from {label(incident.severity)} to {label(severity)}"
            return changed, SEVERITY_CHANGED, text, {"from": incident.severity, "to": severity}, _said(ident, text)
        case grammar.AssignRole(role=role, person=person):
            changed, replaced = roles.assign(incident, role, person, at)
            instead = f" (instead of {', '.join(replaced)})" if replaced else ""
            text = f"{who} made {person} {roles.TITLES[role].lower()}{instead}"
            reply = (
                f"**{ident}**: {plain(person)} is {roles.TITLES[role].lower()}{plain(instead)}. {_guide(role, ident)}"
            )
            return changed, ROLE_ASSIGNED, text, {"role": role, "person": person}, text_reply(reply)
        case grammar.Handoff(person=person):
            changed, previous = roles.hand_off(incident, person, at)
            text = f"{who} handed incident command from {previous or 'nobody'} to {person}"
            reply = f"**{ident}**: {plain(person)} is incident commander now. {_guide(roles.COMMANDER, ident)}"
            data = {"role": roles.COMMANDER, "from": previous, "to": person}
            return changed, ROLE_HANDED_OFF, text, data, text_reply(reply)
        case grammar.ReleaseRole(role=role, person=person):
            changed, released = roles.release(incident, role, person, at)
            text = f"{who} released {', '.join(released)} as {roles.TITLES[role].lower()}"
            return changed, ROLE_RELEASED, text, {"role": role, "people": list(released)}, _said(ident, text)
        case grammar.Update():
            return _update(incident, command, who, at)
        case grammar.Note(text=words):
            return None, NOTE, f"{who}: {words}", {}, _said(ident, f"note recorded from {who}")
        case grammar.Resolve(summary=summary):
            changed = lifecycle.advance(incident, "resolved", who, at)
            text = f"{who} resolved the incident" + (f": {summary}" if summary else "")
            return changed, STATUS_CHANGED, text, {"from": incident.status, "to": "resolved"}, _said(ident, text)
        case grammar.Reopen():
            changed = lifecycle.reopen(incident, at)
            text = f"{who} reopened the incident ({changed.status})"
            return changed, STATUS_CHANGED, text, {"from": incident.status, "to": changed.status}, _said(ident, text)
        case grammar.AskChannel():
            if incident.channel_url:  # made already: say where, change nothing
                return (
                    None,
                    CHAT_MESSAGE,
                    f"{who}: {said.text}",
                    {},
                    _said(ident, f"its channel: {incident.channel_url}"),
                )
            if not incident.is_open:
                raise InvalidInput(f"{ident} is {incident.status}; a channel is for an incident still open")
            text = f"{who} asked for the incident's own Teams channel"
            return None, CHANNEL_REQUESTED, text, {"channel": True}, _said(ident, f"{text}; it appears shortly")
        case grammar.StartReview(person=facilitator):
            changed, text, data, warning = review.start(incident, context.timeline, facilitator, who, at)
            reply = f"**{ident}**: post-incident review started" + (
                f", facilitated by {plain(facilitator)}" if facilitator else ""
            )
            reply += f". Warning: {plain(warning)}." if warning else ". The draft is written shortly."
            return changed, STATUS_CHANGED, text, data, text_reply(reply)
        case grammar.Close():
            changed, text, data = review.close(incident, context.review, who, at)
            return changed, STATUS_CHANGED, text, data, _said(ident, text)
        case grammar.FollowUp():
            return _follow_up(command, who, at, ident)
        case grammar.Milestone(name=name, at=moment):
            changed, previous = lifecycle.correct_milestone(incident, name, moment, at)
            was = iso(previous) if previous else "unset"
            text = f"{who} corrected the {name} milestone from {was} to {iso(moment)}"
            data = {"milestone": name, "from": was, "to": iso(moment)}
            return changed, MILESTONE_CORRECTED, text, data, _said(ident, text)
        case grammar.SetComponentStatus():
            return _set_component_status(incident, command, who, at)
        case grammar.Page(target=target):
            if not incident.is_open:
                raise InvalidInput(f"{ident} is {incident.status}; reopen it before paging anyone")
            # Notifications resolve who the target is (a roster's on-call responder, or a person) and page them.
            text = f"{who} asked to page {target}"
            reply = f"**{ident}**: paging {plain(target)}; the timeline records who was reached."
            return None, PAGE_REQUESTED, text, {"target": target, "by": who}, text_reply(reply)
        case grammar.Status():
            return None, CHAT_MESSAGE, f"{who}: {said.text}", {}, status_card(incident, context)
        case grammar.Timeline():
            return None, CHAT_MESSAGE, f"{who}: {said.text}", {}, _timeline_reply(incident, context.timeline)
        case grammar.Unknown() | grammar.Invalid():
            return None, CHAT_MESSAGE, f"{who}: {said.text}", {}, _help_for(command, ident)
        case _:
            return None, CHAT_MESSAGE, f"{who}: {said.text}", {}, _said(ident, "noted")


def _acknowledge(incident: Incident, who: str, at: datetime) -> tuple[Incident, str, str, dict, dict]:
    if incident.acknowledged_at is None and incident.status == TRIGGERED:
        changed = lifecycle.advance(incident, ACKNOWLEDGED, who, at)
        text = f"{who} acknowledged the incident"
    elif incident.acknowledged_at is None and incident.is_open:
        # Alerts moved it on (e.g. to monitoring) before anyone answered: record who answered, keep the status.
        changed = incident.changed(at, acknowledged_at=at, acknowledged_by=(who,))
        text = f"{who} acknowledged the incident"
    elif who in incident.acknowledged_by:
        raise InvalidInput(f"{incident.id} is already acknowledged by {', '.join(incident.acknowledged_by)}")
    elif not incident.is_open:
        raise InvalidInput(f"{incident.id} is {incident.status}; there is nothing to acknowledge")
    else:
        changed = incident.changed(at, acknowledged_by=(*incident.acknowledged_by, who))
        text = f"{who} acknowledged the incident too"
    return changed, ACKNOWLEDGED_KIND, text, {"by": who}, _said(incident.id, f"{text} ({changed.status})")


def _follow_up(command: grammar.FollowUp, who: str, at: datetime, ident: str) -> tuple:
    owner = command.owner or who
    due = due_date(command.due, at)
    words = command.text
    terms = ([f"for {owner}"] if owner != who else []) + ([f"due {due.isoformat()}"] if due else [])
    text = f"{who} added a follow-up{' ' + ', '.join(terms) if terms else ''}: {words}"
    data = {"text": words, "owner": owner, "added_by": who, "due": due.isoformat() if due else None}
    return None, FOLLOW_UP_ADDED, text, data, _said(ident, text)


def due_date(due: date | int | None, at: datetime) -> date | None:
    """A follow-up's due date: as given, or days from the UTC day it was said; today at the earliest, within
    grammar.MAX_DUE_DAYS."""
    if due is None:
        return None
    today = at.astimezone(UTC).date()
    day = today + timedelta(days=due) if isinstance(due, int) else due
    if day < today:
        raise InvalidInput(f"due {day.isoformat()} is in the past; give today or a later date")
    if day > today + timedelta(days=grammar.MAX_DUE_DAYS):
        raise InvalidInput(f"due {day.isoformat()} is more than {grammar.MAX_DUE_DAYS} days away")
    return day


def _update(incident: Incident, command: grammar.Update, who: str, at: datetime) -> tuple:
    if not incident.is_open:
        raise InvalidInput(f"{incident.id} is {incident.status}; reopen it before posting updates")
    # Without a status the update keeps the public status; a triggered incident is then being investigated.
    target = command.status or (INVESTIGATING if incident.status in (TRIGGERED, ACKNOWLEDGED) else incident.status)
    changed = incident if target == incident.status else lifecycle.advance(incident, target, who, at)
    next_at = at + timedelta(minutes=command.next_update_minutes) if command.next_update_minutes else None
    changed = changed.changed(at, latest_update=command.text, latest_update_at=at, next_update_at=next_at)
    data = {"status": target, "public_text": command.text, "next_update_at": iso(next_at) if next_at else None}
    text = f"{who} posted a public update ({target}): {command.text}"
    promise = f" Next update promised by {iso(next_at)}." if next_at else ""
    shown = "a drill's update is a draft: never published" if incident.drill else "the status page shows it shortly"
    reply = f"**{incident.id}** public update posted ({target}); {shown}.{promise}"
    return changed, UPDATE_POSTED, text, data, text_reply(reply)


def _set_component_status(incident: Incident, command: grammar.SetComponentStatus, who: str, at: datetime) -> tuple:
    if not incident.is_open:
        raise InvalidInput(f"{incident.id} is {incident.status}; component statuses follow open incidents only")
    component = next((c for c in incident.components if c.casefold() == command.component.casefold()), None)
    if component is None:
        raise InvalidInput(f"{incident.id} affects {', '.join(incident.components)}, not {command.component}")
    others = tuple(pair for pair in incident.component_overrides if pair[0] != component)
    overrides = (*others, (component, command.status)) if command.status else others
    if overrides == incident.component_overrides:
        raise InvalidInput(f"{component} already shows {command.status or 'the status its severity gives'}")
    changed = incident.changed(at, component_overrides=overrides)
    shown = (command.status or "the status its severity gives").replace("_", " ")
    page = "the status page (a drill: never published)" if incident.drill else "the status page"
    text = f"{who} set {component} to {shown} on {page}"
    data = {"component": component, "status": command.status}
    return changed, COMPONENT_STATUS_SET, text, data, text_reply(f"**{incident.id}**: {plain(text)}.")


def status_card(incident: Incident, context: Context) -> dict[str, Any]:
    holders = [(roles.TITLES[role], person) for role, person in incident.roles]
    facts = [
        ("Status", incident.status),
        ("Severity", label(incident.severity)),
        ("Service", incident.service),
        ("Detected", iso(incident.detected_at)),
        ("Source", plain(incident.source_detail)),
        ("Acknowledged by", plain(", ".join(incident.acknowledged_by)) or "nobody yet"),
        *[(title, plain(person)) for title, person in holders],
    ]
    if incident.latest_update:
        facts.append(("Latest update", plain(incident.latest_update)))
    links = [("Status page", context.status_page_url)]
    if context.service and context.service.runbook_url:
        links.insert(0, ("Runbook", context.service.runbook_url))
    return card_reply(f"{incident.id} [{label(incident.severity)}] {plain(incident.title)}", [], facts, links)


def _timeline_reply(incident: Incident, timeline: tuple[TimelineEvent, ...]) -> dict[str, Any]:
    ordered = sorted(timeline, key=lambda event: (event.at, event.event_id))  # storage order is not time order
    shown = ordered[-TIMELINE_SHOWN:]
    lines = [f"- {iso(event.at)} — {plain(event.text)}" for event in shown]
    more = f" (latest {len(shown)} of {len(timeline)})" if len(timeline) > len(shown) else ""
    return text_reply(f"**{incident.id}** timeline{more}:\n\n" + "\n".join(lines))


def _without_incident(command: grammar.Command) -> Decision:
    ident = incident_id_of(command)
    if ident is not None:
        return Decision(text_reply(f"There is no incident **{ident}**. `list` shows the open ones."))
    if isinstance(command, grammar.Unknown | grammar.Invalid):
        return Decision(_help_for(command, None))
    return Decision(help_reply(command.topic if isinstance(command, grammar.Help) else None))


def help_reply(topic: str | None) -> dict[str, Any]:
    if topic in grammar.COMMANDS:
        return text_reply(f"`{grammar.COMMANDS[topic]}`")
    lines = "\n".join(f"- `{usage}`" for usage in grammar.COMMANDS.values())
    hint = "Incident ids look like INC-7; people are names or @mentions."
    return text_reply(f"Firebell understands:\n\n{lines}\n\n{hint}")


def _help_for(command: grammar.Command, ident: str | None) -> dict[str, Any]:
    where = f"**{ident}**: " if ident else ""
    if isinstance(command, grammar.Invalid):
        return text_reply(f"{where}`{command.command}` needs {plain(command.problem)}")
    assert isinstance(command, grammar.Unknown)
    if command.suggestion:
        return text_reply(f"{where}I don't know `{plain(command.word)}` — did you mean `{command.suggestion}`?")
    recorded = " Your message is on its timeline." if ident else ""
    return text_reply(f"{where}I don't know `{plain(command.word)}`.{recorded} Say `help` for the commands.")


def _guide(role: str, ident: str) -> str:
    return roles.INSTRUCTIONS[role].format(id=ident)


def _said(ident: str, text: str) -> dict[str, Any]:
    return text_reply(f"**{ident}**: {plain(text)}")


def _event(
    incident: Incident, said: Said, kind: str, text: str, data: dict[str, Any] | None = None, *, public: bool = False
) -> TimelineEvent:
    return TimelineEvent(
        incident_id=incident.id,
        event_id=event_id(said.sent_at or said.at, f"{said.via or 'teams'}-{said.message_id}"),
        kind=kind,
        at=said.at,
        recorded_at=said.at,
        actor=said.speaker,
        source=said.via or "teams",
        text=text,
        public=public,
        data={"message": said.text, **(data or {})},
    )
