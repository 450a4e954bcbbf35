"""Who may run which Teams command: the authorisation policy (`authorization.toml`, defaults below). Pure.

A rule names who may run a command: `anyone` (guests too), `listed` (people in people.toml), `responder` (members
of the on-call roster that owns the incident's service — for `override` the roster named, for `maintenance` any
roster), `role` (anyone holding a role on the incident), a role (`commander`, `comms`, …), or a person's name from
people.toml. `when_vacant` names who may instead while nobody holds any of the roles a command's rule names (before
a commander is assigned, the on-call responder speaks for the incident). A refusal says who may and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.catalog.services import Catalog
from shared.chatops import grammar
from shared.core.config_file import known_keys, read_toml
from shared.core.errors import ConfigurationError
from shared.incidents import roles
from shared.incidents.incident import Incident
from shared.oncall.people import Directory, Person
from shared.oncall.schedule import Schedule
from shared.teams.reply import plain

AUTHORIZATION_FILE = "authorization.toml"
ANYONE, LISTED, RESPONDER, ROLE = "anyone", "listed", "responder", "role"
KEYWORDS = (ANYONE, LISTED, RESPONDER, ROLE)

# The command names of the grammar (`help` lists them); `maintenance list` reads, so it is `list`'s to allow.
_NAMES: dict[type, str] = {
    grammar.Help: "help",
    grammar.Declare: "declare",
    grammar.Drill: "drill",
    grammar.ListIncidents: "list",
    grammar.Status: "status",
    grammar.Ack: "ack",
    grammar.SetSeverity: "sev",
    grammar.AssignRole: "role",
    grammar.Handoff: "handoff",
    grammar.Update: "update",
    grammar.Note: "note",
    grammar.Resolve: "resolve",
    grammar.Reopen: "reopen",
    grammar.StartReview: "postmortem",
    grammar.Close: "close",
    grammar.Timeline: "timeline",
    grammar.FollowUp: "action",
    grammar.Milestone: "milestone",
    grammar.ReleaseRole: "release",
    grammar.SetComponentStatus: "component",
    grammar.Page: "page",
    grammar.AskChannel: "channel",
    grammar.OnCall: "oncall",
    grammar.SendTestPage: "test-page",
    grammar.SetOverride: "override",
    grammar.ScheduleMaintenance: "maintenance",
    grammar.CancelMaintenance: "maintenance",
    grammar.ListMaintenances: "list",
}
_STAFF = (RESPONDER, ROLE)
DEFAULT_RULES: dict[str, tuple[str, ...]] = {
    **{name: (ANYONE,) for name in ("help", "list", "status", "timeline", "oncall")},
    **{name: (LISTED,) for name in ("declare", "drill", "ack", "note", "action", "channel", "test-page")},
    **{
        name: _STAFF
        for name in ("sev", "role", "handoff", "release", "resolve", "reopen", "milestone", "postmortem", "close")
    },
    **{name: (roles.COMMANDER, roles.COMMS) for name in ("update", "component")},
    **{name: (RESPONDER,) for name in ("page", "override", "maintenance")},
}
DEFAULT_WHEN_VACANT: dict[str, tuple[str, ...]] = {"update": (RESPONDER,), "component": (RESPONDER,)}


@dataclass(frozen=True)
class Sender:
    """Who sent a command: the person, and whether people.toml lists them (by id when it lists one)."""

    name: str
    listed: bool


@dataclass(frozen=True)
class Policy:
    rules: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_RULES))
    when_vacant: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_WHEN_VACANT))


def command_name(command: grammar.Command) -> str | None:
    """The name a rule uses for this command; None for talk (unknown words, malformed commands): recorded only."""
    return _NAMES.get(type(command))


def refusal(
    policy: Policy,
    command: grammar.Command,
    sender: Sender,
    incident: Incident | None,
    responders: tuple[str, ...],
    responders_of: str,
) -> str | None:
    """Why `sender` may not run `command` (on `incident`), saying who may (Teams text, names escaped); None when
    they may.

    `responders`: the names of the members of the roster the command concerns (`responders_of` describes it)."""
    name = command_name(command)
    if name is None:
        return None
    allowed = policy.rules.get(name, DEFAULT_RULES[name])
    if _allows(allowed, sender, incident, responders):
        return None
    fallback = policy.when_vacant.get(name, ())
    vacant = fallback and not _held(allowed, incident)
    if vacant and _allows(fallback, sender, incident, responders):
        return None
    who = _described(allowed, incident, responders, responders_of)
    if vacant:
        who += f"; while nobody holds those roles, {_described(fallback, incident, responders, responders_of)}"
    guest = "" if sender.listed else f"; {plain(sender.name)} is not in people.toml"
    return f"only {who} may `{name}`{guest}. Nothing was changed."


def _allows(allowed: tuple[str, ...], sender: Sender, incident: Incident | None, responders: tuple[str, ...]) -> bool:
    if ANYONE in allowed:
        return True
    if not sender.listed:  # guests read; everything else needs a person the directory vouches for
        return False
    held = incident.roles if incident else ()
    holders = {person for _, person in held}
    for principal in allowed:
        if principal == LISTED:
            return True
        if principal == RESPONDER and sender.name in responders:
            return True
        if principal == ROLE and sender.name in holders:
            return True
        if principal in roles.TITLES and (principal, sender.name) in held:
            return True
        if principal not in KEYWORDS and principal not in roles.TITLES and principal == sender.name:
            return True
    return False


def _held(allowed: tuple[str, ...], incident: Incident | None) -> bool:
    """Whether anyone holds one of the roles the rule names."""
    return incident is not None and any(role in allowed for role, _ in incident.roles)


def _described(allowed: tuple[str, ...], incident: Incident | None, responders: tuple[str, ...], of: str) -> str:
    on = f" of {incident.id}" if incident else ""
    parts: list[str] = []
    for principal in allowed:
        if principal == ANYONE:
            parts.append("anyone")
        elif principal == LISTED:
            parts.append("people listed in people.toml")
        elif principal == RESPONDER:
            parts.append(f"responders on {of} ({_names(responders)})")
        elif principal == ROLE:
            holders = tuple(dict.fromkeys(person for _, person in incident.roles)) if incident else ()
            parts.append(f"people holding a role{on} ({_names(holders)})")
        elif principal in roles.TITLES:
            holders = tuple(p for r, p in incident.roles if r == principal) if incident else ()
            parts.append(f"the {roles.TITLES[principal].lower()}{on} ({_names(holders)})")
        else:
            parts.append(plain(principal))
    return " or ".join(parts)


def _names(people: tuple[str, ...]) -> str:
    return plain(", ".join(people)) if people else "nobody yet"


# --- the file ---------------------------------------------------------------------------------------------------------
def load_policy(config_dir: Path, directory: Directory) -> Policy:
    path = config_dir / AUTHORIZATION_FILE
    document = read_toml(path)
    if document is None:
        return Policy()  # optional: the defaults above
    return parse_policy(document, str(path), directory)


def parse_policy(document: dict[str, Any], source: str, directory: Directory) -> Policy:
    known_keys(document, {"commands", "when_vacant"}, source)
    rules = dict(DEFAULT_RULES)
    rules.update(_rules(document, "commands", source, directory))
    when_vacant = dict(DEFAULT_WHEN_VACANT)
    when_vacant.update(_rules(document, "when_vacant", source, directory))
    return Policy(rules, when_vacant)


def _rules(document: dict[str, Any], key: str, source: str, directory: Directory) -> dict[str, tuple[str, ...]]:
    table = document.get(key, {})
    where = f"{source}: {key}"
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: must be a table of command = [who, …]")
    known_keys(table, set(DEFAULT_RULES), where)
    found: dict[str, tuple[str, ...]] = {}
    for command, allowed in table.items():
        if not isinstance(allowed, list):
            raise ConfigurationError(f"{where}.{command}: must be a list of who may, got {allowed!r}")
        found[command] = tuple(_principal(value, f"{where}.{command}", directory) for value in allowed)
    return found


def _principal(value: Any, where: str, directory: Directory) -> str:
    if isinstance(value, str) and (value in KEYWORDS or value in roles.TITLES):
        return value
    if isinstance(value, str) and value.strip():
        person = next((p for p in directory.people if p.name.casefold() == value.strip().casefold()), None)
        if person is not None:
            return person.name
    expected = ", ".join((*KEYWORDS, *roles.TITLES))
    raise ConfigurationError(f"{where}: {value!r} is neither one of {expected} nor a person in people.toml")


# --- applied to one sender --------------------------------------------------------------------------------------------
Refuse = Callable[[grammar.Command, Incident | None], str | None]


def gate(policy: Policy, sender: Sender, catalog: Catalog, schedule: Schedule) -> Refuse:
    """The policy applied to one sender: (command, its incident or None) → why not, or None."""

    def refuse(command: grammar.Command, incident: Incident | None) -> str | None:
        if isinstance(command, grammar.SetOverride) and schedule.find(command.roster) is None:
            return None  # no such roster: the desk says so, and nothing is stored either way
        members, of = _responders(command, incident, catalog, schedule)
        return refusal(policy, command, sender, incident, members, of)

    return refuse


def _responders(
    command: grammar.Command, incident: Incident | None, catalog: Catalog, schedule: Schedule
) -> tuple[tuple[str, ...], str]:
    """The members of the roster a command concerns, and how to name it in a refusal."""
    if isinstance(command, grammar.SetOverride):
        roster = schedule.roster(command.roster)
        return _members(roster.members), f"the {roster.id} roster"
    if incident is None:  # maintenance: the rosters together
        return _members(p for roster in schedule.rosters for p in roster.members), "an on-call roster"
    service = catalog.service(incident.service) or catalog.default
    roster_id = service.roster or catalog.default.roster
    roster = schedule.find(roster_id) if roster_id else None
    return (_members(roster.members) if roster else ()), f"the {roster_id or 'unassigned'} roster"


def _members(people: Iterable[Person]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(person.name for person in people))
