"""Cold start: `import function_app` registers every function and loads nothing a function needs only when it runs
(README: Cold start). Each probe is a fresh interpreter, as an instance's worker is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from functions.lazy import lazy
from tests.conftest import ROOT

# What would make every cold start pay for what only some invocations use: SDKs and their transports, templates,
# crypto, calendars, telemetry, and Firebell's own stores, flows and renderers.
HEAVY = (
    "requests",
    "urllib3",
    "jinja2",
    "azure.core",
    "azure.data.tables",
    "azure.storage",
    "azure.identity",
    "azure.devops",
    "msrest",
    "azure.monitor",
    "opentelemetry",
    "cryptography",
    "jwt",
    "icalendar",
    "isodate",
    "yarl",
    "tomllib",
    "zoneinfo",
    "uuid",
    "decimal",
    "xml.etree",
    "shared.statuspage.site",
    "shared.statuspage.publisher",
    "shared.statuspage.queue_message",
    "shared.incidents.store",
    "shared.incidents.alert_intake",
    "shared.chatops.grammar",
    "shared.catalog.services",
    "shared.oncall.schedule",
    "shared.notifications.notifier",
    "shared.workitems.sync",
)
# The only Firebell domain modules a trigger module may import at its top: the vocabulary of the edge (errors, queue
# names, settings, JSON bodies, change messages, log fields) — each small and free of SDKs.
EDGE = {
    "shared",
    "shared.core",
    "shared.core.errors",
    "shared.core.json_body",
    "shared.core.once",  # the composition root: one store, publisher and sender per process
    "shared.core.queues",
    "shared.core.settings",
    "shared.core.storage",
    "shared.core.telemetry",
    "shared.core.text",
    "shared.core.timeutil",
    "shared.incidents",
    "shared.incidents.changes",
    "shared.incidents.incident",
    "shared.incidents.timeline",
    "shared.teams",
    "shared.teams.signature",
    "shared.workitems",
    "shared.workitems.service_hook",
}


def run(program: str, **settings: str) -> dict:
    environment = {key: value for key, value in os.environ.items() if key != "APPLICATIONINSIGHTS_CONNECTION_STRING"}
    environment.update(AzureWebJobsStorage="UseDevelopmentStorage=true", **settings)
    finished = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    return json.loads(finished.stdout.strip().splitlines()[-1])


LOADED = """
import json, sys
import function_app
print(json.dumps({"modules": sorted(sys.modules), "functions": len(function_app.app.get_functions())}))
"""


def test_importing_the_app_loads_no_sdk_template_engine_store_or_flow():
    modules = run(LOADED)["modules"]
    assert [name for name in modules if any(name == h or name.startswith(f"{h}.") for h in HEAVY)] == []


def test_of_firebell_s_domain_only_the_edge_vocabulary_loads_with_the_app():
    loaded = run(LOADED)
    domain = {name for name in loaded["modules"] if name == "shared" or name.startswith("shared.")}
    assert sorted(domain - EDGE) == []


def test_every_function_is_still_registered_when_the_app_loads():
    # As many as the blueprints declare (tests/unit/devhost lists each by name and trigger).
    declared = sum(
        text.count("@bp.function_name(") for text in (path.read_text() for path in (ROOT / "functions").glob("*.py"))
    )
    assert run(LOADED)["functions"] == declared > 40


CHECKED = """
import json, logging, sys
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())
logging.getLogger("firebell").addHandler(Keep())
logging.getLogger("firebell").setLevel(logging.INFO)
import function_app
from functions import alerts, startup
before = [m for m in records if m.startswith("configuration invalid")]
answer = alerts.receive(__import__("azure.functions").functions.HttpRequest(
    "POST", "http://localhost/api/alerts", body=b"not json"))
finished = startup.checked(timeout=60)
after = [m for m in records if m.startswith("configuration invalid")]
print(json.dumps({"status": answer.status_code, "before": before, "after": after, "finished": finished}))
"""


def test_the_configuration_is_checked_once_the_first_invocation_has_answered(tmp_path: Path):
    """Not on the import (a cold start's path), and not before the answer: on a background thread after it, so a
    broken file still shows up in the start-up log, naming file, key and problem."""
    for name in ("people.toml", "oncall.toml", "escalations.toml", "boards.toml"):
        if (ROOT / "config" / name).exists():
            (tmp_path / name).write_text((ROOT / "config" / name).read_text())
    services = (ROOT / "config" / "services.toml").read_text().replace("min_severity = 3", "min_severity = 9", 1)
    (tmp_path / "services.toml").write_text(services)
    seen = run(CHECKED, FIREBELL_CONFIG_DIR=str(tmp_path))
    assert (seen["status"], seen["before"], seen["finished"]) == (400, [], True)
    assert seen["after"] == [
        f"configuration invalid: {tmp_path / 'services.toml'}: default.min_severity: must be a severity from 1 "
        "(worst) to 4, got 9"
    ]


def test_a_lazy_module_is_imported_by_its_first_attribute_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "firebell_lazy_probe.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = lazy("firebell_lazy_probe")
    assert "firebell_lazy_probe" not in sys.modules
    assert probe.LOADED is True
    assert sys.modules["firebell_lazy_probe"].LOADED is True
    with pytest.raises(AttributeError):
        _ = probe.MISSING
    monkeypatch.delitem(sys.modules, "firebell_lazy_probe")
