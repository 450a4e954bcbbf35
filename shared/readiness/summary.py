"""One closed incident's readiness figures, computed once from its state and timeline: how long detection,
acknowledgement, mitigation and resolution took, how we knew, whom it paged and when in their day, what it cost,
the follow-ups it left and whether its public-update promises were kept. Pure; what it needs of the catalog and the
people directory is passed in.

Milestones are the incident's own, which a `milestone` correction rewrites: corrected milestones win. Impact starts
at `started_at` when someone knows it, else at the first signal. Durations run from impact start, except time to
acknowledge, which runs from the first signal (nobody can answer a page before there is one); a correction that
puts one milestone before the one it is measured from counts as zero, never as a negative time.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.catalog.services import Service
from shared.core.timeutil import parse_instant
from shared.incidents.incident import Incident
from shared.incidents.timeline import (
    ESCALATION_PAGED,
    FOLLOW_UP_ADDED,
    FOLLOW_UP_DONE,
    PAGE_REQUESTED,
    PUBLIC_UPDATE,
    TimelineEvent,
)
from shared.oncall.people import Directory
from shared.readiness import hours

DETECT, ACKNOWLEDGE, MITIGATE, RESOLVE = "detect", "acknowledge", "mitigate", "resolve"
DURATIONS = (DETECT, ACKNOWLEDGE, MITIGATE, RESOLVE)


@dataclass(frozen=True, order=True)
class PageTally:
    """Pages one person had from one incident in one band of their day, at one local hour, for one roster."""

    person: str
    roster: str  # "" when the page was for nobody's roster (a person paged by name)
    period: str  # hours.PERIODS
    hour: int  # 0–23 on the person's wall clock
    count: int


@dataclass(frozen=True)
class IncidentSummary:
    incident_id: str
    service: str
    severity: int
    source: str  # how we knew: monitoring | customer | slo | person
    declared_at: datetime
    detected_at: datetime
    started_at: datetime  # impact start: the known start, else the first signal
    acknowledged_at: datetime | None
    mitigated_at: datetime
    resolved_at: datetime
    cost_per_minute: float
    pages: tuple[PageTally, ...]
    follow_ups: int  # follow-up actions recorded
    updates_promised: int  # public updates that promised the next one by a time
    updates_late: int  # … whose next update (or the resolution) came after that time
    version: int  # the incident state and timeline length it was computed from: a newer basis replaces an older
    events: int
    paged: tuple[tuple[str, datetime], ...] = ()  # (person, when) of every page, in time order: shifts' load
    follow_ups_done: int = 0  # … of them whose Boards task reached a done state (the service hook said so)

    @functools.cached_property
    def month(self) -> str:
        """The month it belongs to (declared, UTC): stable for the incident's life, so reopening moves nothing."""
        return f"{self.declared_at.year:04d}-{self.declared_at.month:02d}"

    @property
    def basis(self) -> tuple[int, int]:
        return (self.version, self.events)

    def seconds(self, duration: str) -> float | None:
        """Time to detect, acknowledge, mitigate or resolve, in seconds; None when it never happened."""
        return self.durations[DURATIONS.index(duration)]

    @functools.cached_property
    def durations(self) -> tuple[float | None, ...]:
        """The four times, in DURATIONS order (worked out once: a query reads them for every grouping)."""
        spans = (
            (self.started_at, self.detected_at),
            (self.detected_at, self.acknowledged_at),
            (self.started_at, self.mitigated_at),
            (self.started_at, self.resolved_at),
        )
        return tuple(None if end is None else max(0.0, (end - begin).total_seconds()) for begin, end in spans)

    @functools.cached_property
    def outage_minutes(self) -> float:
        """Customer impact: impact start until mitigation."""
        return max(0.0, (self.mitigated_at - self.started_at).total_seconds() / 60)

    @functools.cached_property
    def cost(self) -> float:
        return self.outage_minutes * self.cost_per_minute

    @property
    def customer_first(self) -> bool:
        """A customer told us before monitoring did."""
        return self.source == "customer"

    @property
    def updates_kept(self) -> int:
        return self.updates_promised - self.updates_late


class NotClosed(ValueError):
    """Only a resolved incident has figures; an open one has none yet."""


def summarise(
    incident: Incident,
    timeline: Sequence[TimelineEvent],
    service: Service,
    people: Directory,
    rosters: Collection[str] = (),
) -> IncidentSummary:
    """The figures of a resolved incident. `service` is its catalog entry (cost, roster); `rosters` the roster ids
    a `page <target>` request may name."""
    if incident.is_open or incident.resolved_at is None:
        raise NotClosed(f"{incident.id} is {incident.status}")
    resolved = incident.resolved_at
    ordered = sorted(timeline, key=lambda event: (event.at, event.event_id))
    promised, late = _promises(ordered, resolved)
    return IncidentSummary(
        incident_id=incident.id,
        service=incident.service,
        severity=incident.severity,
        source=incident.source,
        declared_at=incident.declared_at,
        detected_at=incident.detected_at,
        started_at=incident.started_at or incident.detected_at,
        acknowledged_at=incident.acknowledged_at,
        mitigated_at=incident.mitigated_at or resolved,
        resolved_at=resolved,
        cost_per_minute=service.cost_per_minute,
        pages=_pages(ordered, service.roster or "", people, rosters),
        paged=tuple(
            (event.data["person"], event.at)
            for event in ordered
            if event.kind == ESCALATION_PAGED and isinstance(event.data.get("person"), str)
        ),
        follow_ups=sum(1 for event in ordered if event.kind == FOLLOW_UP_ADDED),
        # A follow-up is done once, however often its task was closed again (each closing is its own event).
        follow_ups_done=len({event.data.get("follow_up") for event in ordered if event.kind == FOLLOW_UP_DONE}),
        updates_promised=promised,
        updates_late=late,
        version=incident.version,
        events=len(timeline),
    )


def _pages(
    timeline: Sequence[TimelineEvent], service_roster: str, people: Directory, rosters: Collection[str]
) -> tuple[PageTally, ...]:
    """Every page that reached someone: an escalation step's (for the roster it paged, as its event says; for the
    service's roster in events written before they said so) or one asked for with `page <roster|person>` (for that
    roster, or for nobody's when a person was named)."""
    requested = {event.event_id: event for event in timeline if event.kind == PAGE_REQUESTED}
    known = {roster.casefold(): roster for roster in rosters}
    tally: Counter[tuple[str, str, str, int]] = Counter()
    for event in timeline:
        name = event.data.get("person")
        if event.kind != ESCALATION_PAGED or not isinstance(name, str):
            continue
        roster = str(event.data.get("roster") or service_roster)
        request = requested.get(str(event.data.get("request", "")))
        if request is not None:
            roster = known.get(str(request.data.get("target", "")).casefold(), "")
        zone = people.named(name).time_zone
        tally[(name, roster, hours.period(event.at, zone), hours.local_time(event.at, zone).hour)] += 1
    return tuple(sorted(PageTally(*key, count) for key, count in tally.items()))


@dataclass(frozen=True)
class Promise:
    """A public update that named the time of the next one, and when the next one (or the resolution) came."""

    update: TimelineEvent
    due: datetime
    kept_by: datetime  # the next public update after it, or the resolution

    @property
    def late(self) -> bool:
        return self.kept_by > self.due


def promises(timeline: Sequence[TimelineEvent], resolved: datetime) -> list[Promise]:
    """Every promise of a next public update (timeline in time order): it is kept when the next public update, or
    the resolution, came by then."""
    updates = [event for event in timeline if event.kind == PUBLIC_UPDATE]
    found = []
    for index, update in enumerate(updates):
        text = update.data.get("next_update_at")
        if not isinstance(text, str) or not text:
            continue
        try:
            due = parse_instant(text)
        except ValueError:
            continue
        following = [later.at for later in updates[index + 1 :] if later.at > update.at]
        found.append(Promise(update, due, min([*following, resolved])))
    return found


def _promises(timeline: Sequence[TimelineEvent], resolved: datetime) -> tuple[int, int]:
    """(promises made, promises broken)."""
    made = promises(timeline, resolved)
    return len(made), sum(promise.late for promise in made)
