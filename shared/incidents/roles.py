"""Incident roles: who commands, communicates, records and works the incident. Pure.

Every role but subject-matter expert has one holder; assigning it to someone else replaces the holder. The
commander changes hands only by an explicit hand-off, so nobody loses command by accident.
"""

from __future__ import annotations

from datetime import datetime

from shared.core.errors import InvalidInput
from shared.incidents.incident import Incident

COMMANDER, COMMS, SCRIBE, PRIMARY, SECONDARY, SME = "commander", "comms", "scribe", "primary", "secondary", "sme"
TITLES = {
    COMMANDER: "Incident commander",
    COMMS: "Communication coordinator",
    SCRIBE: "Scribe",
    PRIMARY: "Primary responder",
    SECONDARY: "Secondary responder",
    SME: "Subject-matter expert",
}
# What each role is expected to do: sent with every assignment, so nobody has to look it up at 3 a.m.
INSTRUCTIONS = {
    COMMANDER: "Lead the response: set priorities, delegate, decide, keep the severity honest. "
    "Stay out of the hands-on work; hand off explicitly (handoff {id} <person>) before you step away.",
    COMMS: "Keep customers and stakeholders informed: post public updates (update {id} …) at least every 30 "
    "minutes and say when the next one comes; answer stakeholders so responders can work.",
    SCRIBE: "Keep the record: Firebell logs every message; add notes for decisions, findings and times "
    "(note {id} …) and follow-ups as they come up (action {id} …).",
    PRIMARY: "Work the problem hands-on: investigate, mitigate, and report findings and risks to the commander.",
    SECONDARY: "Back up the primary: take the tasks they hand over, watch for side effects, be ready to take over.",
    SME: "Bring your system's expertise: answer the commander's questions and advise on safe mitigations.",
}


class RoleRefused(InvalidInput):
    code = "role_refused"


def holders(incident: Incident, role: str) -> tuple[str, ...]:
    return tuple(person for held, person in incident.roles if held == role)


def assign(incident: Incident, role: str, person: str, now: datetime) -> tuple[Incident, tuple[str, ...]]:
    """Give `role` to `person`; returns the new state and whom it replaced (nobody for experts, who add up)."""
    current = holders(incident, role)
    if person.casefold() in {holder.casefold() for holder in current}:
        raise RoleRefused(f"{person} is already {TITLES[role].lower()} of {incident.id}")
    if role == COMMANDER and current:
        raise RoleRefused(
            f"{current[0]} is incident commander of {incident.id}; command changes hands explicitly: "
            f"handoff {incident.id} {person}"
        )
    replaced = () if role == SME else current
    kept = tuple((held, who) for held, who in incident.roles if not (held == role and who in replaced))
    return incident.changed(now, roles=(*kept, (role, person))), replaced


def hand_off(incident: Incident, person: str, now: datetime) -> tuple[Incident, str | None]:
    """The commander hands command to `person`; returns the new state and the previous commander."""
    current = holders(incident, COMMANDER)
    if person in current:
        raise RoleRefused(f"{person} is already incident commander of {incident.id}")
    kept = tuple((held, who) for held, who in incident.roles if held != COMMANDER)
    return incident.changed(now, roles=(*kept, (COMMANDER, person))), (current[0] if current else None)


def release(incident: Incident, role: str, person: str | None, now: datetime) -> tuple[Incident, tuple[str, ...]]:
    """Free a role (one expert when named, else every holder); returns the new state and who was released."""
    current = holders(incident, role)
    released = tuple(who for who in current if person is None or who.casefold() == person.casefold())
    if not released:
        whom = f"{person} is not" if person else "nobody is"
        raise RoleRefused(f"{whom} {TITLES[role].lower()} of {incident.id}")
    kept = tuple((held, who) for held, who in incident.roles if not (held == role and who in released))
    return incident.changed(now, roles=kept), released
