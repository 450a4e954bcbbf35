"""Severity policy: Azure Monitor Sev0–Sev4 → Firebell SEV1 (worst) … SEV4, configurable in the service catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.core.errors import ConfigurationError

WORST, MILDEST = 1, 4
AZURE_SEVERITIES = ("Sev0", "Sev1", "Sev2", "Sev3", "Sev4")
# Budget alerts carry no severity: an overspend that has happened is worse than one that is forecast.
BUDGET_THRESHOLDS = {"Actual": "budget_actual", "Forecasted": "budget_forecasted"}


@dataclass(frozen=True)
class SeverityPolicy:
    azure: dict[str, int] = field(default_factory=lambda: {"Sev0": 1, "Sev1": 2, "Sev2": 3, "Sev3": 4, "Sev4": 4})
    budget_actual: int = 2
    budget_forecasted: int = 3
    unspecified: int = 3  # alerts without a severity (some activity log alerts)

    def for_alert(self, azure_severity: str | None, budget_threshold: str | None = None) -> int:
        if azure_severity is not None:
            return self.azure.get(azure_severity, self.unspecified)
        if budget_threshold == "Actual":
            return self.budget_actual
        if budget_threshold == "Forecasted":
            return self.budget_forecasted
        return self.unspecified


def label(severity: int) -> str:
    return f"SEV{severity}"


def parse_level(value: Any, where: str) -> int:
    """A Firebell severity as configured or declared: 1–4, or "SEV1"–"SEV4"."""
    if isinstance(value, str) and value.upper().startswith("SEV"):
        value = value[3:]
    if isinstance(value, str) and value.isascii() and value.isdigit():  # "²".isdigit() too, and int() refuses it
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not WORST <= value <= MILDEST:
        raise ConfigurationError(f"{where}: must be a severity from 1 (worst) to 4, got {value!r}")
    return value


def parse_policy(table: Any, where: str) -> SeverityPolicy:
    """The catalog's optional [severity] table; every key is checked so a typo is an error, not a silent default."""
    if table is None:
        return SeverityPolicy()
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: must be a table")
    known = {*AZURE_SEVERITIES, *BUDGET_THRESHOLDS.values(), "unspecified"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigurationError(f"{where}.{unknown[0]}: unknown key; expected one of {', '.join(sorted(known))}")
    default = SeverityPolicy()
    azure = {name: parse_level(table.get(name, level), f"{where}.{name}") for name, level in default.azure.items()}
    return SeverityPolicy(
        azure=azure,
        budget_actual=parse_level(table.get("budget_actual", default.budget_actual), f"{where}.budget_actual"),
        budget_forecasted=parse_level(
            table.get("budget_forecasted", default.budget_forecasted), f"{where}.budget_forecasted"
        ),
        unspecified=parse_level(table.get("unspecified", default.unspecified), f"{where}.unspecified"),
    )
