"""The benchmarks' service catalog: one incident per alert for the storm, plus service-grouped services on demand."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from shared.catalog.services import CATALOG_FILE, Catalog, parse_catalog

UNGROUPED_RULE = "storm-metric"  # rules named storm-* belong to the ungrouped service "storm"

# min_severity 4 pages every alert (the sample is Sev4 → SEV4); auto_resolve false leaves resolved incidents in
# monitoring, so a late repeat finds its incident open and cannot open a second one for its key.
BENCH_CATALOG = """
[default]
component = "Other services"
min_severity = 4

[[service]]
id = "storm"
component = "Storm"
rule_patterns = ["storm-*"]
group_by = "alert"
auto_resolve = false
min_severity = 4
"""


def grouped_rule(service: int) -> str:
    """A rule name that belongs to service-grouped service number `service` (see bench_catalog)."""
    return f"grouped-{service:02d}-metric"


def bench_catalog(grouped_services: int = 0) -> Catalog:
    """The bench catalog, plus `grouped_services` services that collect every alert of theirs in one incident
    (one service each, so every sample can observe a group's first alert)."""
    document: dict[str, Any] = tomllib.loads(BENCH_CATALOG)
    document["service"] += [
        {
            "id": f"grouped-{number:02d}",
            "component": f"Grouped {number:02d}",
            "rule_patterns": [f"grouped-{number:02d}-*"],
            "group_by": "service",
            "auto_resolve": False,
            "min_severity": 4,
        }
        for number in range(grouped_services)
    ]
    return parse_catalog(document, "bench catalog")


def write_config_dir(folder: Path) -> Path:
    """A FIREBELL_CONFIG_DIR holding the bench catalog, for a devhost started as a child process."""
    (folder / CATALOG_FILE).write_text(BENCH_CATALOG, encoding="utf-8")
    return folder
