"""The service catalog: which service an alert belongs to, who owns it, and how its alerts become incidents.

Loaded from `services.toml` in FIREBELL_CONFIG_DIR and validated up front; errors name file, key and problem,
and unknown keys are errors too, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shared.azure_monitor.alert import Alert
from shared.catalog.publication import PublicationPolicy, parse_publication
from shared.catalog.severity import MILDEST, SeverityPolicy, parse_level, parse_policy
from shared.core.config_file import config_text, known_keys, read_toml
from shared.core.errors import ConfigurationError

CATALOG_FILE = "services.toml"
DEFAULT_SERVICE_ID = "default"
# How alerts of one service share incidents: every open alert of the service in one incident, one per alert rule,
# or one per alert.
GROUP_BY = ("service", "rule", "alert")


@dataclass(frozen=True)
class Service:
    id: str
    component: str  # the public name customers see on the status page
    resource_id_prefixes: tuple[str, ...] = ()
    resource_groups: tuple[str, ...] = ()
    rule_patterns: tuple[str, ...] = ()
    roster: str | None = None  # owning on-call roster
    runbook_url: str | None = None
    area_path: str | None = None  # Azure Boards area path for its work items
    cost_per_minute: float = 0.0  # cost of an outage minute, for readiness metrics
    group_by: str = "service"
    group_window_minutes: int = 0  # 0: join while the incident is open; N: only within N minutes of its first alert
    auto_resolve: bool = False  # when every alert has resolved: resolve (True) or move to monitoring (False)
    min_severity: int = MILDEST  # alerts milder than this are logged, not paged
    public: bool = True  # False: an internal service; its incidents and component never reach the status page
    # An open incident whose firing alerts all never resolve (activity log, budgets: shared.azure_monitor.
    # statefulness) moves to monitoring after this many minutes without a new alert.
    stateless_quiet_minutes: int = 60

    def matches(self, alert: Alert) -> bool:
        targets = [target.lower() for target in alert.targets]
        if any(t.startswith(prefix.lower()) for t in targets for prefix in self.resource_id_prefixes):
            return True
        groups = {_resource_group(target) for target in targets}
        if groups & {group.lower() for group in self.resource_groups}:
            return True
        rule = alert.rule or ""
        return any(fnmatch.fnmatchcase(rule.lower(), pattern.lower()) for pattern in self.rule_patterns)

    def opens_incident(self, severity: int) -> bool:
        return severity <= self.min_severity


@dataclass(frozen=True)
class Catalog:
    services: tuple[Service, ...]
    default: Service
    severity: SeverityPolicy = field(default_factory=SeverityPolicy)
    publication: PublicationPolicy = field(default_factory=PublicationPolicy)

    def service_for(self, alert: Alert) -> Service:
        """The service the alert's `service` custom property names, else the first whose rules match (file order);
        unmatched alerts go to the default service."""
        named = self.service(alert.custom_properties.get("service", ""))
        if named is not None:
            return named
        return next((service for service in self.services if service.matches(alert)), self.default)

    def service(self, service_id: str) -> Service | None:
        if service_id == DEFAULT_SERVICE_ID:
            return self.default
        return next((service for service in self.services if service.id == service_id), None)

    def components(self) -> tuple[str, ...]:
        names = [service.component for service in self.services] + [self.default.component]
        return tuple(dict.fromkeys(names))

    def public_components(self) -> tuple[str, ...]:
        """The components the status page lists: those of public services (an internal one's name is internal)."""
        services = [*self.services, self.default]
        return tuple(dict.fromkeys(service.component for service in services if service.public))

    def is_public_service(self, service_id: str) -> bool:
        """Unknown ids (a declaration naming no catalogued service) follow the default service."""
        return (self.service(service_id) or self.default).public


def load_catalog(config_dir: Path) -> Catalog:
    path = config_dir / CATALOG_FILE
    document = read_toml(path)
    if document is None:
        raise ConfigurationError(f"{path}: file not found (set FIREBELL_CONFIG_DIR to the folder holding it)")
    return parse_catalog(document, str(path))


_POLICY_KEYS = {
    "component",
    "roster",
    "runbook_url",
    "area_path",
    "cost_per_minute",
    "group_by",
    "group_window_minutes",
    "auto_resolve",
    "min_severity",
    "public",
    "stateless_quiet_minutes",
}
_MATCH_KEYS = {"resource_id_prefixes", "resource_groups", "rule_patterns"}


def parse_catalog(document: dict[str, Any], source: str) -> Catalog:
    known_keys(document, {"default", "service", "severity", "publication"}, source)
    default_table = document.get("default", {})
    if not isinstance(default_table, dict):
        raise ConfigurationError(f"{source}: [default] must be a table")
    where = f"{source}: default"
    known_keys(default_table, _POLICY_KEYS, where)
    default = Service(
        id=DEFAULT_SERVICE_ID,
        component=config_text(default_table, "component", where, fallback="Other services"),
        **_policy(default_table, where),
    )
    entries = document.get("service", [])
    if not isinstance(entries, list):
        raise ConfigurationError(f"{source}: 'service' must be an array of tables ([[service]])")
    services: list[Service] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{source}: service[{index}]"
        if not isinstance(entry, dict):
            raise ConfigurationError(f"{where} must be a table")
        known_keys(entry, {"id"} | _POLICY_KEYS | _MATCH_KEYS, where)
        service_id = config_text(entry, "id", where)
        if service_id in seen or service_id == DEFAULT_SERVICE_ID:
            raise ConfigurationError(f"{where}.id: {service_id!r} is used twice (or is the reserved 'default')")
        seen.add(service_id)
        services.append(
            Service(
                id=service_id,
                component=config_text(entry, "component", where),
                resource_id_prefixes=_texts(entry, "resource_id_prefixes", where),
                resource_groups=_texts(entry, "resource_groups", where),
                rule_patterns=_texts(entry, "rule_patterns", where),
                **_policy(entry, where),
            )
        )
    severity = parse_policy(document.get("severity"), f"{source}: severity")
    publication = parse_publication(document.get("publication"), f"{source}: publication")
    return Catalog(services=tuple(services), default=default, severity=severity, publication=publication)


def _policy(table: dict[str, Any], where: str) -> dict[str, Any]:
    group_by = table.get("group_by", "service")
    if group_by not in GROUP_BY:
        raise ConfigurationError(f"{where}.group_by: must be one of {', '.join(GROUP_BY)}, got {group_by!r}")
    return {
        "roster": _optional_text(table, "roster", where),
        "runbook_url": _url(table, "runbook_url", where),
        "area_path": _optional_text(table, "area_path", where),
        "cost_per_minute": _number(table, "cost_per_minute", where),
        "group_by": group_by,
        "group_window_minutes": int(_number(table, "group_window_minutes", where, integer=True)),
        "auto_resolve": _flag(table, "auto_resolve", where),
        "min_severity": parse_level(table.get("min_severity", MILDEST), f"{where}.min_severity"),
        "public": _flag(table, "public", where, default=True),
        "stateless_quiet_minutes": int(
            _number({"stateless_quiet_minutes": 60, **table}, "stateless_quiet_minutes", where, integer=True)
        ),
    }


def _resource_group(resource_id: str) -> str:
    parts = resource_id.split("/")
    for index, part in enumerate(parts[:-1]):
        if part == "resourcegroups":
            return parts[index + 1]
    return ""


def _optional_text(table: dict[str, Any], key: str, where: str) -> str | None:
    return config_text(table, key, where) if key in table else None


def _url(table: dict[str, Any], key: str, where: str) -> str | None:
    url = _optional_text(table, key, where)
    if url is not None and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
        raise ConfigurationError(f"{where}.{key}: must be an http(s) URL, got {url!r}")
    return url


def _number(table: dict[str, Any], key: str, where: str, *, integer: bool = False) -> float:
    value = table.get(key, 0)
    kinds = (int,) if integer else (int, float)
    # TOML allows nan and inf, which no cost or window can be.
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or value < 0:
        what = "a whole number" if integer else "a number"
        raise ConfigurationError(f"{where}.{key}: must be {what} ≥ 0, got {value!r}")
    return value


def _flag(table: dict[str, Any], key: str, where: str, *, default: bool = False) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigurationError(f"{where}.{key}: must be true or false, got {value!r}")
    return value


def _texts(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ConfigurationError(f"{where}.{key}: must be a list of non-empty strings")
    return tuple(value)
