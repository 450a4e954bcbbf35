"""Incident histories for readiness tests, made by the real rules: an alert opens the incident, Teams commands
(shared.chatops) acknowledge, update, correct milestones and resolve it, and escalation pages are recorded as the
notifications consumer records them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.chatops.grammar import parse_command
from shared.chatops.rules import Context, Said, decide
from shared.incidents.incident import Incident
from shared.incidents.timeline import ALERT_FIRED, ESCALATION_PAGED, TimelineEvent, event_id

_messages = itertools.count(1)


@dataclass
class History:
    incident: Incident
    timeline: list[TimelineEvent] = field(default_factory=list)

    @classmethod
    def alert(
        cls,
        number: int,
        fired_at: datetime,
        *,
        service: str = "checkout",
        severity: int = 2,
        source: str = "monitoring",
    ) -> History:
        """Opened by an alert that fired at `fired_at` (impact start until someone knows better), as detection does."""
        ident = f"INC-{number}"
        incident = Incident(
            id=ident,
            number=number,
            title="checkout-errors",
            service=service,
            components=("Checkout",),
            severity=severity,
            status="triggered",
            source=source,
            source_detail="checkout-errors",
            detected_at=fired_at,
            started_at=fired_at if source == "monitoring" else None,
            declared_at=fired_at,
            updated_at=fired_at,
        )
        opened = TimelineEvent(
            ident,
            event_id(fired_at, "alert-fired-a1"),
            ALERT_FIRED,
            fired_at,
            fired_at,
            "Azure Monitor",
            "azure-monitor",
            "Alert fired",
            data={"alert": "a1"},
        )
        return cls(incident, [opened])

    def say(self, text: str, who: str, at: datetime) -> History:
        """A Teams command, decided by the ChatOps rules; the test fails when the rules refuse it."""
        message = f"m-{next(_messages)}"
        decision = decide(parse_command(text), self.incident, Said(text, who, at, message), Context())
        assert decision.events and "refused" not in decision.events[0].text, decision.events
        self.timeline += decision.events
        if decision.changed is not None:
            self.incident = decision.changed
        return self

    def paged(
        self, person: str, at: datetime, step: int = 0, request: str | None = None, roster: str | None = None
    ) -> History:
        """An escalation step (or a `page` request) paged `person`, as the notifications consumer records it;
        `roster`: the roster the step paged, as events say since they say it."""
        data: dict[str, object] = {"round": 1, "step": step, "policy": "default", "person": person}
        if roster is not None:
            data["roster"] = roster
        if request is not None:
            data = {"person": person, "request": request}
        self.timeline.append(
            TimelineEvent(
                self.incident.id,
                event_id(at, f"escalation-paged-{step}-{person}"),
                ESCALATION_PAGED,
                at,
                at,
                "Firebell",
                "notifications",
                f"paged {person}",
                data=data,
            )
        )
        return self


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
