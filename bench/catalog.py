"""The benchmarks' service catalog: one incident per alert for the storm, and a service-grouped service too."""

from __future__ import annotations

import tomllib
from pathlib import Path

from shared.catalog import CATALOG_FILE, Catalog, parse_catalog

UNGROUPED_RULE = "storm-metric"  # rules named storm-* belong to the ungrouped service
GROUPED_RULE = "grouped-metric"  # rules named grouped-* belong to the service-grouped one

# min_severity 4 pages every alert (the sample is Sev4 → SEV4); auto_resolve false leaves resolved incidents in
# monitoring, so a late repeat cannot open a second incident for a key that already had one.
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

[[service]]
id = "grouped"
component = "Grouped"
rule_patterns = ["grouped-*"]
group_by = "service"
auto_resolve = false
min_severity = 4
"""


def bench_catalog() -> Catalog:
    return parse_catalog(tomllib.loads(BENCH_CATALOG), "bench catalog")


def write_config_dir(folder: Path) -> Path:
    """A FIREBELL_CONFIG_DIR holding the bench catalog, for a devhost started as a child process."""
    (folder / CATALOG_FILE).write_text(BENCH_CATALOG, encoding="utf-8")
    return folder
