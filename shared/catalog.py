"""The service catalog: which service an alert belongs to, and the public component name customers see.

Loaded from `services.toml` in FIREBELL_CONFIG_DIR and validated up front; errors name file, key and problem.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.alert import Alert
from shared.errors import ConfigurationError

CATALOG_FILE = "services.toml"
DEFAULT_SERVICE_ID = "default"


@dataclass(frozen=True)
class Service:
    id: str
    component: str
    resource_id_prefixes: tuple[str, ...] = ()
    resource_groups: tuple[str, ...] = ()
    rule_patterns: tuple[str, ...] = ()

    def matches(self, alert: Alert) -> bool:
        if alert.custom_properties.get("service") == self.id:
            return True
        targets = [target.lower() for target in alert.targets]
        if any(t.startswith(prefix.lower()) for t in targets for prefix in self.resource_id_prefixes):
            return True
        groups = {_resource_group(target) for target in targets}
        if groups & {group.lower() for group in self.resource_groups}:
            return True
        rule = alert.rule or ""
        return any(fnmatch.fnmatchcase(rule.lower(), pattern.lower()) for pattern in self.rule_patterns)


@dataclass(frozen=True)
class Catalog:
    services: tuple[Service, ...]
    default: Service

    def service_for(self, alert: Alert) -> Service:
        """The first service whose rules match, in file order; unmatched alerts go to the default service."""
        return next((service for service in self.services if service.matches(alert)), self.default)


def load_catalog(config_dir: Path) -> Catalog:
    path = config_dir / CATALOG_FILE
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: file not found (set FIREBELL_CONFIG_DIR to the folder holding it)") from None
    except tomllib.TOMLDecodeError as problem:
        raise ConfigurationError(f"{path}: not valid TOML: {problem}") from None
    except (OSError, UnicodeDecodeError) as problem:
        raise ConfigurationError(f"{path}: cannot be read: {problem}") from None
    return parse_catalog(document, str(path))


def parse_catalog(document: dict[str, Any], source: str) -> Catalog:
    default_table = document.get("default", {})
    if not isinstance(default_table, dict):
        raise ConfigurationError(f"{source}: [default] must be a table")
    default = Service(
        id=DEFAULT_SERVICE_ID,
        component=_text(default_table, "component", f"{source}: default", fallback="Other services"),
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
        service_id = _text(entry, "id", where)
        if service_id in seen or service_id == DEFAULT_SERVICE_ID:
            raise ConfigurationError(f"{where}.id: {service_id!r} is used twice (or is the reserved 'default')")
        seen.add(service_id)
        services.append(
            Service(
                id=service_id,
                component=_text(entry, "component", where),
                resource_id_prefixes=_texts(entry, "resource_id_prefixes", where),
                resource_groups=_texts(entry, "resource_groups", where),
                rule_patterns=_texts(entry, "rule_patterns", where),
            )
        )
    return Catalog(services=tuple(services), default=default)


def _resource_group(resource_id: str) -> str:
    parts = resource_id.split("/")
    for index, part in enumerate(parts[:-1]):
        if part == "resourcegroups":
            return parts[index + 1]
    return ""


def _text(table: dict[str, Any], key: str, where: str, *, fallback: str | None = None) -> str:
    value = table.get(key, fallback)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where}.{key}: must be a non-empty string, got {value!r}")
    return value.strip()


def _texts(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ConfigurationError(f"{where}.{key}: must be a list of non-empty strings")
    return tuple(value)
