"""The review draft: everything a blameless post-incident review starts from, drawn from one incident's state and
timeline and its catalog entry. Pure and deterministic: the same incident and timeline give an equal Draft (no clock
reading; the figures are shared.readiness.summary's, so the review and the readiness report never disagree).

Silences are stretches of the response (first event until resolution) longer than the policy's gap without any
event; a missed promise is a public update that promised the next one by a time which passed before it came.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.catalog.services import Service
from shared.incidents.incident import Incident
from shared.incidents.roles import TITLES
from shared.incidents.timeline import (
    ACKNOWLEDGED,
    ESCALATION_PAGED,
    FOLLOW_UP_ADDED,
    MILESTONE_CORRECTED,
    PAGE_REQUESTED,
    ROLE_ASSIGNED,
    ROLE_HANDED_OFF,
    ROLE_RELEASED,
    STATUS_CHANGED,
    WORK_ITEM_CREATED,
    TimelineEvent,
)
from shared.oncall.people import Directory
from shared.postmortems.policy import ReviewPolicy
from shared.readiness.summary import DURATIONS, Promise, promises, summarise

MILESTONE_NAMES = ("started", "detected", "declared", "acknowledged", "mitigated", "resolved")


@dataclass(frozen=True)
class Milestone:
    name: str
    at: datetime | None
    corrected: bool  # a person set it with `milestone`: it wins over what was recorded


@dataclass(frozen=True)
class Silence:
    start: datetime  # the last event before it
    end: datetime  # the next event

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


@dataclass(frozen=True)
class Entry:
    """One line of the timeline, with what the review flags on it."""

    at: datetime
    actor: str
    kind: str
    text: str
    silence_before: Silence | None = None  # a silence ended with this event
    missed: Promise | None = None  # this public update promised the next one, which came late


@dataclass(frozen=True)
class Paging:
    person: str
    at: datetime
    why: str


@dataclass(frozen=True)
class Handling:
    """A role given, handed off or released, or an acknowledgement: who did what in the response, when."""

    at: datetime
    role: str
    what: str


@dataclass(frozen=True)
class Action:
    text: str
    owner: str
    added_at: datetime
    due: str = ""  # as the follow-up recorded it, when it has a due date
    url: str = ""  # its Boards work item, once the timeline has it


@dataclass(frozen=True)
class Draft:
    incident_id: str
    title: str
    severity: int
    status: str
    service: str
    components: tuple[str, ...]
    source: str
    source_detail: str
    customer_impact: str
    description: str
    facilitator: str | None
    facilitator_took_part: bool
    five_questions: tuple[tuple[str, str], ...]
    milestones: tuple[Milestone, ...]
    durations: tuple[tuple[str, float | None], ...]  # (detect|acknowledge|mitigate|resolve, seconds)
    outage_minutes: float
    cost_per_minute: float
    cost: float
    entries: tuple[Entry, ...]
    silences: tuple[Silence, ...]
    promises: tuple[Promise, ...]
    pages: tuple[Paging, ...]
    acknowledgements: tuple[tuple[str, datetime], ...]
    roles: tuple[Handling, ...]
    actions: tuple[Action, ...]
    version: int  # the incident state and timeline length it was drawn from: a newer basis replaces an older draft
    events: int

    @property
    def basis(self) -> tuple[int, int]:
        return (self.version, self.events)

    @property
    def missed_promises(self) -> tuple[Promise, ...]:
        return tuple(promise for promise in self.promises if promise.late)


def build_draft(
    incident: Incident, timeline: Sequence[TimelineEvent], service: Service, people: Directory, policy: ReviewPolicy
) -> Draft:
    """The draft of a resolved (or reviewed, or closed) incident; shared.readiness.summary.NotClosed for an open one."""
    summary = summarise(incident, timeline, service, people)
    ordered = sorted(timeline, key=lambda event: (event.at, event.event_id))
    made = tuple(promises(ordered, summary.resolved_at))
    silences = _silences(ordered, summary.resolved_at, policy.silence)
    started = _facilitation(ordered)
    return Draft(
        incident_id=incident.id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        service=incident.service,
        components=incident.components,
        source=incident.source,
        source_detail=incident.source_detail,
        customer_impact=incident.customer_impact,
        description=incident.description,
        facilitator=started[0] if started else None,
        facilitator_took_part=bool(started and started[1]),
        five_questions=_five_questions(incident),
        milestones=_milestones(incident, ordered, summary.started_at, summary.mitigated_at),
        durations=tuple((name, summary.seconds(name)) for name in DURATIONS),
        outage_minutes=summary.outage_minutes,
        cost_per_minute=summary.cost_per_minute,
        cost=summary.cost,
        entries=_entries(ordered, silences, made),
        silences=silences,
        promises=made,
        pages=_pages(ordered),
        acknowledgements=tuple(
            (str(event.data.get("by") or event.actor), event.at) for event in ordered if event.kind == ACKNOWLEDGED
        ),
        roles=_roles(ordered),
        actions=_actions(ordered),
        version=incident.version,
        events=len(timeline),
    )


def _five_questions(incident: Incident) -> tuple[tuple[str, str], ...]:
    holders = ", ".join(f"{TITLES.get(role, role)}: {person}" for role, person in incident.roles)
    return (
        ("When did we know?", f"detected {_when(incident.detected_at)}, declared {_when(incident.declared_at)}"),
        ("How did we know?", f"{incident.source}: {incident.source_detail}".rstrip(": ")),
        ("Who was aware?", ", ".join(dict.fromkeys((*incident.notified, *incident.acknowledged_by))) or "nobody"),
        ("Was anyone doing anything?", holders or "no roles were assigned"),
        ("How bad was it?", f"SEV{incident.severity}; " + (incident.customer_impact or "customer impact not recorded")),
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _milestones(
    incident: Incident, ordered: Sequence[TimelineEvent], started: datetime, mitigated: datetime
) -> tuple[Milestone, ...]:
    corrected = {str(event.data.get("milestone")) for event in ordered if event.kind == MILESTONE_CORRECTED}
    values = {
        "started": started,
        "detected": incident.detected_at,
        "declared": incident.declared_at,
        "acknowledged": incident.acknowledged_at,
        "mitigated": mitigated,
        "resolved": incident.resolved_at,
    }
    return tuple(Milestone(name, values[name], name in corrected) for name in MILESTONE_NAMES)


def _silences(ordered: Sequence[TimelineEvent], resolved: datetime, gap: timedelta) -> tuple[Silence, ...]:
    during = [event.at for event in ordered if event.at <= resolved]
    return tuple(Silence(before, after) for before, after in itertools.pairwise(during) if after - before > gap)


def _entries(
    ordered: Sequence[TimelineEvent], silences: Sequence[Silence], made: Sequence[Promise]
) -> tuple[Entry, ...]:
    ending = {silence.end: silence for silence in silences}
    missed = {promise.update.event_id: promise for promise in made if promise.late}
    entries = []
    for event in ordered:
        silence = ending.pop(event.at, None)  # the first event at that moment ends the silence
        entries.append(Entry(event.at, event.actor, event.kind, event.text, silence, missed.get(event.event_id)))
    return tuple(entries)


def _pages(ordered: Sequence[TimelineEvent]) -> tuple[Paging, ...]:
    found = []
    for event in ordered:
        if event.kind == ESCALATION_PAGED and isinstance(event.data.get("person"), str):
            found.append(Paging(event.data["person"], event.at, event.text))
        elif event.kind == PAGE_REQUESTED:
            found.append(Paging(str(event.data.get("target", "")), event.at, f"asked for by {event.actor}"))
    return tuple(found)


def _roles(ordered: Sequence[TimelineEvent]) -> tuple[Handling, ...]:
    found = []
    for event in ordered:
        data = event.data
        if event.kind == ROLE_ASSIGNED:
            found.append(Handling(event.at, _title(data.get("role")), f"{data.get('person')} (by {event.actor})"))
        elif event.kind == ROLE_HANDED_OFF:
            what = f"handed off from {data.get('from') or 'nobody'} to {data.get('to')} (by {event.actor})"
            found.append(Handling(event.at, _title(data.get("role") or "commander"), what))
        elif event.kind == ROLE_RELEASED:
            people = ", ".join(str(person) for person in data.get("people") or [])
            found.append(Handling(event.at, _title(data.get("role")), f"released {people} (by {event.actor})"))
    return tuple(found)


def _title(role: object) -> str:
    return TITLES.get(str(role), str(role))


def _facilitation(ordered: Sequence[TimelineEvent]) -> tuple[str, bool] | None:
    """(facilitator, whether they took part in the response) of the latest review start that named one."""
    named = [
        event
        for event in ordered
        if event.kind == STATUS_CHANGED and event.data.get("to") == "postmortem" and event.data.get("facilitator")
    ]
    if not named:
        return None
    data = named[-1].data
    return str(data["facilitator"]), bool(data.get("took_part"))


def _actions(ordered: Sequence[TimelineEvent]) -> tuple[Action, ...]:
    links = {
        str(event.data.get("follow_up")): str(event.data.get("url") or "")
        for event in ordered
        if event.kind == WORK_ITEM_CREATED and event.data.get("follow_up")
    }
    return tuple(
        Action(
            text=str(event.data.get("text") or event.text),
            owner=str(event.data.get("owner") or event.actor),
            added_at=event.at,
            due=str(event.data.get("due") or ""),
            url=links.get(event.event_id, ""),
        )
        for event in ordered
        if event.kind == FOLLOW_UP_ADDED
    )
