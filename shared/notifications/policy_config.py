"""Escalation policies from `escalations.toml` in FIREBELL_CONFIG_DIR: the policies, and which one an incident of a
given service and severity follows (routes tried in file order, then the default).

Validated up front like the service catalog: errors name file, key and problem, and unknown keys are errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from shared.catalog.severity import parse_level
from shared.core.config_file import config_text, known_keys, read_toml
from shared.core.errors import ConfigurationError
from shared.notifications.policy import PERSON, ROLE, ROSTER_LAYER, EscalationPolicy, EscalationStep
from shared.oncall.people import Directory
from shared.oncall.schedule import Schedule

ESCALATIONS_FILE = "escalations.toml"
MAX_ROUNDS, MAX_STEPS = 10, 20
MAX_WAIT_MINUTES = 24 * 60  # one day; a queue message may wait up to seven
ROLES = ("commander", "comms")
_STEP_KEYS = {ROSTER_LAYER, "roster", ROLE, PERSON, "wait_minutes"}
_POLICY_KEYS = {"rounds", "steps"}
_ROUTE_KEYS = {"service", "severities", "policy"}


@dataclass(frozen=True)
class Route:
    service: str | None  # None: every service
    severities: tuple[int, ...]  # () : every severity
    policy: str

    def matches(self, service: str, severity: int) -> bool:
        return (self.service is None or self.service == service) and (
            not self.severities or severity in self.severities
        )


@dataclass(frozen=True)
class EscalationConfig:
    policies: dict[str, EscalationPolicy]
    routes: tuple[Route, ...]
    default: str

    def policy_for(self, service: str, severity: int) -> EscalationPolicy:
        """The first route matching the incident's service and severity, else the default policy."""
        chosen = next((route.policy for route in self.routes if route.matches(service, severity)), self.default)
        return self.policies[chosen]

    def policy(self, policy_id: str) -> EscalationPolicy | None:
        return self.policies.get(policy_id)

    def check_targets(self, schedule: Schedule, directory: Directory, source: str) -> None:
        """Every roster, layer and person a step names exists: a typo must not page nobody at 03:00."""
        for policy in self.policies.values():
            for index, step in enumerate(policy.steps):
                where = f"{source}: policy.{policy.id}.steps[{index}]"
                if step.notify == PERSON and directory.named(step.target) not in directory.people:
                    raise ConfigurationError(f"{where}.person: {step.target!r} is not in people.toml")
                if step.notify == ROSTER_LAYER and step.roster is not None:
                    roster = schedule.find(step.roster)
                    if roster is None:
                        raise ConfigurationError(f"{where}.roster: {step.roster!r} is not a roster in oncall.toml")
                    if step.target not in [layer.name for layer in roster.layers]:
                        raise ConfigurationError(f"{where}.roster_layer: {roster.id} has no layer {step.target!r}")


# Without escalations.toml: page the owning roster's primary, once.
BUILT_IN = EscalationConfig(
    policies={"built-in": EscalationPolicy("built-in", (EscalationStep(ROSTER_LAYER, "primary"),), rounds=1)},
    routes=(),
    default="built-in",
)


def load_escalations(config_dir: Path, services: set[str] | None = None) -> EscalationConfig:
    """The escalation configuration (BUILT_IN when the file is absent); `services` (catalog ids), when given, must
    include every routed service."""
    path = config_dir / ESCALATIONS_FILE
    document = read_toml(path)
    if document is None:
        return BUILT_IN  # optional: without it, the owning roster's primary is paged once
    return parse_escalations(document, str(path), services)


def parse_escalations(document: dict[str, Any], source: str, services: set[str] | None = None) -> EscalationConfig:
    known_keys(document, {"policy", "default", "route"}, source)
    policies_table = document.get("policy")
    if not isinstance(policies_table, dict) or not policies_table:
        raise ConfigurationError(f"{source}: policy: define at least one [policy.<id>] table")
    policies = {
        policy_id: _policy(policy_id, table, f"{source}: policy.{policy_id}")
        for policy_id, table in policies_table.items()
    }
    default_table = document.get("default")
    if not isinstance(default_table, dict):
        raise ConfigurationError(f'{source}: default: missing; add [default] with policy = "<id>"')
    known_keys(default_table, {"policy"}, f"{source}: default")
    default = _policy_ref(default_table, f"{source}: default", policies)
    entries = document.get("route", [])
    if not isinstance(entries, list):
        raise ConfigurationError(f"{source}: route: must be an array of tables ([[route]])")
    routes = tuple(_route(entry, f"{source}: route[{i}]", policies, services) for i, entry in enumerate(entries))
    return EscalationConfig(policies=policies, routes=routes, default=default)


def _policy(policy_id: str, table: Any, where: str) -> EscalationPolicy:
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: must be a table")
    known_keys(table, _POLICY_KEYS, where)
    rounds = table.get("rounds", 1)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= MAX_ROUNDS:
        raise ConfigurationError(f"{where}.rounds: must be a whole number from 1 to {MAX_ROUNDS}, got {rounds!r}")
    steps = table.get("steps")
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        raise ConfigurationError(f"{where}.steps: must be a list of 1 to {MAX_STEPS} steps")
    return EscalationPolicy(
        id=policy_id,
        steps=tuple(_step(step, f"{where}.steps[{index}]") for index, step in enumerate(steps)),
        rounds=rounds,
    )


def _step(table: Any, where: str) -> EscalationStep:
    if not isinstance(table, dict):
        raise ConfigurationError(f'{where}: must be a table such as {{ roster_layer = "primary", wait_minutes = 5 }}')
    known_keys(table, _STEP_KEYS, where)
    chosen = [key for key in (ROSTER_LAYER, ROLE, PERSON) if key in table]
    if len(chosen) != 1:
        raise ConfigurationError(f"{where}: must name exactly one of roster_layer, role, person")
    notify = chosen[0]
    target = config_text(table, notify, where)
    if notify == ROLE and target not in ROLES:
        raise ConfigurationError(f"{where}.role: must be one of {', '.join(ROLES)}, got {target!r}")
    if "roster" in table and notify != ROSTER_LAYER:
        raise ConfigurationError(f"{where}.roster: only a roster_layer step names a roster")
    roster = config_text(table, "roster", where) if "roster" in table else None
    wait = table.get("wait_minutes", 0)
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= MAX_WAIT_MINUTES:
        raise ConfigurationError(f"{where}.wait_minutes: must be a number from 0 to {MAX_WAIT_MINUTES}, got {wait!r}")
    return EscalationStep(notify=notify, target=target, roster=roster, wait=timedelta(minutes=wait))


def _route(table: Any, where: str, policies: dict[str, EscalationPolicy], services: set[str] | None) -> Route:
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: must be a table")
    known_keys(table, _ROUTE_KEYS, where)
    service = config_text(table, "service", where) if "service" in table else None
    if service is not None and services is not None and service not in services:
        raise ConfigurationError(f"{where}.service: {service!r} is not a service in services.toml")
    severities = table.get("severities", [])
    if not isinstance(severities, list):
        raise ConfigurationError(f"{where}.severities: must be a list of severities (1–4), got {severities!r}")
    levels = tuple(parse_level(level, f"{where}.severities[{index}]") for index, level in enumerate(severities))
    if service is None and not levels:
        raise ConfigurationError(f"{where}: name a service, severities or both ([default] is the catch-all)")
    return Route(service=service, severities=levels, policy=_policy_ref(table, where, policies))


def _policy_ref(table: dict[str, Any], where: str, policies: dict[str, EscalationPolicy]) -> str:
    policy_id = config_text(table, "policy", where)
    if policy_id not in policies:
        raise ConfigurationError(f"{where}.policy: {policy_id!r} is not defined; policies: {', '.join(policies)}")
    return policy_id
