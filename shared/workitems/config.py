"""How Firebell uses Azure Boards: which incidents get a work item, of which type, and how states follow.

Loaded from `boards.toml` in FIREBELL_CONFIG_DIR and validated up front like the service catalog: errors name file,
key and problem, and unknown keys are errors. The file is optional; without it the defaults below apply (and
nothing happens until AZURE_DEVOPS_ORG_URL and AZURE_DEVOPS_PROJECT are set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.catalog.severity import parse_level
from shared.core.config_file import config_text, known_keys, read_toml
from shared.core.errors import ConfigurationError
from shared.incidents.incident import STATUSES

BOARDS_FILE = "boards.toml"
# A field reference name as Azure Boards spells it: System.Description, Microsoft.VSTS.TCM.ReproSteps, Custom.Impact.
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
_KEYS = {
    "enabled",
    "drills",
    "min_severity",
    "work_item_type",
    "task_type",
    "description_field",
    "due_date_field",
    "done_states",
    "states",
    "http",
}
_HTTP_KEYS = {"timeout_seconds", "attempts", "first_backoff_seconds", "max_backoff_seconds"}


@dataclass(frozen=True)
class HttpPolicy:
    """How patiently one delivery talks to Azure DevOps before the queue's own redelivery takes over."""

    timeout_seconds: float = 10.0  # one request (connect and read)
    attempts: int = 4  # per step, the first try included
    first_backoff_seconds: float = 0.5  # doubles after each failure, with jitter
    max_backoff_seconds: float = 30.0  # also the longest Retry-After honoured in-process; longer waits go to the queue


@dataclass(frozen=True)
class BoardsConfig:
    enabled: bool = True
    min_severity: int = 2  # the mildest severity that gets a work item: SEV1 and SEV2 by default
    work_item_type: str = "Bug"  # depends on the project's process: Bug (Agile, Scrum, CMMI), Issue (Basic) …
    task_type: str = "Task"  # follow-up actions become child work items of this type
    description_field: str = "System.Description"  # a Bug's form shows Microsoft.VSTS.TCM.ReproSteps instead
    # Where a follow-up's due date goes: Agile's Issue has this field; other types have it once the process adds it.
    due_date_field: str = "Microsoft.VSTS.Scheduling.DueDate"
    # The states of a follow-up's task that mean it is done (the service hook records "follow-up done" on them).
    done_states: tuple[str, ...] = ("Closed", "Done")
    # Firebell status → Boards state the incident's work item moves to; statuses not listed leave the state alone.
    states: tuple[tuple[str, str], ...] = (("resolved", "Resolved"), ("closed", "Closed"))
    http: HttpPolicy = field(default_factory=HttpPolicy)
    drills: bool = False  # whether drills (exercises) get work items too

    def creates_item(self, severity: int) -> bool:
        return severity <= self.min_severity

    def state_for(self, status: str) -> str | None:
        return dict(self.states).get(status)


def load_boards_config(config_dir: Path) -> BoardsConfig:
    path = config_dir / BOARDS_FILE
    document = read_toml(path)
    return BoardsConfig() if document is None else parse_boards_config(document, str(path))


def parse_boards_config(document: dict[str, Any], source: str) -> BoardsConfig:
    known_keys(document, _KEYS, source)
    defaults = BoardsConfig()
    enabled = document.get("enabled", defaults.enabled)
    if not isinstance(enabled, bool):
        raise ConfigurationError(f"{source}: enabled: must be true or false, got {enabled!r}")
    drills = document.get("drills", defaults.drills)
    if not isinstance(drills, bool):
        raise ConfigurationError(f"{source}: drills: must be true or false, got {drills!r}")
    description_field = config_text(document, "description_field", source, fallback=defaults.description_field)
    if not _FIELD_NAME.match(description_field):
        raise ConfigurationError(
            f"{source}: description_field: {description_field!r} is not a field reference name "
            "(e.g. System.Description or Microsoft.VSTS.TCM.ReproSteps)"
        )
    due_date_field = config_text(document, "due_date_field", source, fallback=defaults.due_date_field)
    if not _FIELD_NAME.match(due_date_field):
        raise ConfigurationError(
            f"{source}: due_date_field: {due_date_field!r} is not a field reference name "
            "(e.g. Microsoft.VSTS.Scheduling.DueDate)"
        )
    return BoardsConfig(
        enabled=enabled,
        min_severity=parse_level(document.get("min_severity", defaults.min_severity), f"{source}: min_severity"),
        work_item_type=config_text(document, "work_item_type", source, fallback=defaults.work_item_type),
        task_type=config_text(document, "task_type", source, fallback=defaults.task_type),
        description_field=description_field,
        due_date_field=due_date_field,
        done_states=_done_states(document.get("done_states"), source, defaults.done_states),
        states=_states(document.get("states"), source, defaults.states),
        http=_http(document.get("http"), source),
        drills=drills,
    )


def _states(table: Any, source: str, default: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    if table is None:
        return default
    where = f"{source}: states"
    if not isinstance(table, dict):
        raise ConfigurationError(f'{where} must be a table of Firebell status = "Boards state"')
    known_keys(table, set(STATUSES), where)
    return tuple((status, config_text(table, status, where)) for status in table)


def _done_states(value: Any, source: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    if not isinstance(value, list) or not value or not all(isinstance(s, str) and s.strip() for s in value):
        raise ConfigurationError(f'{source}: done_states must be a non-empty list of Boards states, e.g. ["Closed"]')
    return tuple(state.strip() for state in value)


def _http(table: Any, source: str) -> HttpPolicy:
    if table is None:
        return HttpPolicy()
    where = f"{source}: http"
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where} must be a table")
    known_keys(table, _HTTP_KEYS, where)
    defaults = HttpPolicy()
    attempts = table.get("attempts", defaults.attempts)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 10:
        raise ConfigurationError(f"{where}.attempts: must be a whole number from 1 to 10, got {attempts!r}")
    return HttpPolicy(
        timeout_seconds=_seconds(table, "timeout_seconds", where, defaults.timeout_seconds, positive=True),
        attempts=attempts,
        first_backoff_seconds=_seconds(table, "first_backoff_seconds", where, defaults.first_backoff_seconds),
        max_backoff_seconds=_seconds(table, "max_backoff_seconds", where, defaults.max_backoff_seconds),
    )


def _seconds(table: dict[str, Any], key: str, where: str, fallback: float, *, positive: bool = False) -> float:
    value = table.get(key, fallback)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else "≥ 0"
        raise ConfigurationError(f"{where}.{key}: must be a number of seconds {bound}, got {value!r}")
    return float(value)
