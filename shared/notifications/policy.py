"""Escalation policies: whom to page, in what order, how long to wait, and when to stop. Pure.

A policy is a list of steps — page a roster layer (primary, secondary), the incident commander, or a named person —
each followed by a wait, repeated for up to `rounds` rounds. An acknowledgement (or the incident closing) stops it.
The shell runs one step per delayed queue message; everything it decides comes from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.core.errors import InvalidInput
from shared.core.timeutil import iso, parse_instant
from shared.incidents.incident import TRIGGERED, Incident

# What a step pages.
ROSTER_LAYER, ROLE, PERSON = "roster_layer", "role", "person"


@dataclass(frozen=True)
class EscalationStep:
    notify: str  # ROSTER_LAYER | ROLE | PERSON
    target: str  # the layer ("primary"), the role ("commander") or the person's name
    roster: str | None = None  # for ROSTER_LAYER: the roster; None → the service's owning roster
    wait: timedelta = timedelta(0)  # before the next step (or round)

    def describe(self, service_roster: str | None) -> str:
        """What the step pages, in words: "payments primary", "incident commander", "named contact"."""
        if self.notify == ROSTER_LAYER:
            roster = self.roster or service_roster or "owning roster"
            return f"{roster} {self.target}"
        if self.notify == ROLE:
            return "incident commander" if self.target == "commander" else f"incident {self.target}"
        return "named contact"  # the person's name is what was paged; this says why them


@dataclass(frozen=True)
class EscalationPolicy:
    id: str
    steps: tuple[EscalationStep, ...]
    rounds: int = 1


@dataclass(frozen=True, order=True)
class Position:
    """Where an escalation is: round 1…rounds, step 0…len(steps)-1 — of which series: "" for the escalation that
    opened the incident, another name for each time the incident is triggered again (its steps are settled apart)."""

    round: int
    step: int
    series: str = ""

    def key(self) -> str:
        steps = f"r{self.round:02d}-s{self.step:02d}"
        return f"{self.series}-{steps}" if self.series else steps


FIRST = Position(1, 0)
_SERIES = re.compile(r"[A-Za-z0-9-]{0,40}")


@dataclass(frozen=True)
class StepMessage:
    """The `escalations` queue message: which incident, which policy, which step, and when it was due.

    `due` names the step's timeline events, so a redelivered message records the same events once.
    """

    incident: str
    policy: str
    position: Position
    due: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "policy": self.policy,
            "round": self.position.round,
            "step": self.position.step,
            "due": iso(self.due),
            **({"series": self.position.series} if self.position.series else {}),
        }

    @classmethod
    def from_json(cls, document: Any) -> StepMessage:
        if not isinstance(document, dict):
            raise InvalidInput("an escalation message must be a JSON object")
        incident, policy = document.get("incident"), document.get("policy")
        round_, step, due = document.get("round"), document.get("step"), document.get("due")
        if not isinstance(incident, str) or not isinstance(policy, str):
            raise InvalidInput("an escalation message needs string 'incident' and 'policy'")
        if not isinstance(round_, int) or not isinstance(step, int) or round_ < 1 or step < 0:
            raise InvalidInput("an escalation message needs 'round' ≥ 1 and 'step' ≥ 0 (integers)")
        try:
            when = parse_instant(due) if isinstance(due, str) else None
        except ValueError:
            when = None
        if when is None:
            raise InvalidInput("an escalation message needs 'due' (an ISO 8601 instant)")
        series = document.get("series", "")
        if not isinstance(series, str) or not _SERIES.fullmatch(series):
            raise InvalidInput("an escalation message's 'series' must be up to 40 letters, digits or dashes")
        return cls(incident, policy, Position(round_, step, series), when)


def stop_reason(incident: Incident) -> str | None:
    """Why escalation must stop now, or None to go on: someone acknowledged, or the incident is no longer open."""
    if not incident.is_open:
        return f"the incident is {incident.status}"
    if incident.acknowledged_at is not None or incident.acknowledged_by:
        who = ", ".join(incident.acknowledged_by)
        return f"acknowledged by {who}" if who else "acknowledged"
    if incident.status != TRIGGERED:
        return f"the incident is {incident.status}"  # someone is working it (e.g. an update moved it on)
    return None


def step_at(policy: EscalationPolicy, position: Position) -> EscalationStep | None:
    """The step at `position`, None when the position is outside the policy (a policy edited since)."""
    if not 1 <= position.round <= policy.rounds or not 0 <= position.step < len(policy.steps):
        return None
    return policy.steps[position.step]


def next_position(policy: EscalationPolicy, position: Position) -> Position | None:
    """The step after `position`: the next step, the first step of the next round, or None when it was the last."""
    if position.step + 1 < len(policy.steps):
        return Position(position.round, position.step + 1, position.series)
    if position.round < policy.rounds:
        return Position(position.round + 1, 0, position.series)
    return None


def wait_after(policy: EscalationPolicy, position: Position) -> timedelta:
    step = step_at(policy, position)
    return step.wait if step else timedelta(0)


def why(policy: EscalationPolicy, position: Position, service_roster: str | None) -> str:
    """Why this person is paged: "payments primary, step 1 of 3" (and the round when there are several)."""
    step = policy.steps[position.step]
    where = f"step {position.step + 1} of {len(policy.steps)}"
    if policy.rounds > 1:
        where += f", round {position.round} of {policy.rounds}"
    return f"{step.describe(service_roster)}, {where}"


def paged_text(person: str, reason: str) -> str:
    return f"paged {person} ({reason})"


def gap_text(reason: str, problem: str) -> str:
    return f"escalation skipped {reason}: {problem}"


def stopped_text(reason: str) -> str:
    return f"escalation stopped: {reason}"


def exhausted_text(policy: EscalationPolicy) -> str:
    steps = f"{len(policy.steps)} steps" if len(policy.steps) > 1 else "1 step"
    rounds = f"{policy.rounds} rounds" if policy.rounds > 1 else "1 round"
    return f"every step of escalation policy {policy.id} ran ({steps}, {rounds}), unacknowledged"


def visibility_seconds(delay: timedelta) -> int:
    """A queue message's visibility delay in whole seconds (rounded up: never page earlier than promised)."""
    seconds = delay.total_seconds()
    whole = int(seconds)
    return whole + (1 if seconds > whole else 0)
