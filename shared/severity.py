"""Severity policy: Azure Monitor Sev0–Sev4 → Firebell SEV1 (worst) … SEV4."""

from __future__ import annotations

AZURE_TO_FIREBELL = {"Sev0": 1, "Sev1": 2, "Sev2": 3, "Sev3": 4, "Sev4": 4}
# Alerts without a severity (budget alerts, some activity log alerts) are treated as a moderate incident.
UNSPECIFIED = 3


def from_azure(azure_severity: str | None) -> int:
    return AZURE_TO_FIREBELL.get(azure_severity or "", UNSPECIFIED)


def label(severity: int) -> str:
    return f"SEV{severity}"
