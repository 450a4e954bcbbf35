"""`python -m devhost.drill`: fire a drill (Chaos Day) alert at a running Firebell, as Azure Monitor would send it.

The alert is one of Azure Monitor's own published payloads (samples/azure-monitor/, copied verbatim; the tests'
copies are in tests/fixtures/azure-monitor/) as a new firing: a fresh alert id under the sample's own path, fired
now, and the action group custom property `firebell_drill = "true"` that makes the incident it opens a drill — paged
and escalated like any incident, never on the status page, never in the metrics (docs/drills.md). `--resolve ID`
sends the resolution of a drill alert fired before. Settings (the function key) come from local.settings.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from devhost.azurite import ROOT
from devhost.settings import load_local_settings
from shared.azure_monitor.alert import DRILL_PROPERTY
from shared.core.timeutil import iso, utc_now

SAMPLES = ROOT / "samples" / "azure-monitor"
DEFAULT_SAMPLE = "59_test_action_metric_static_threshold.json"
_SEVERITY = re.compile(r"Sev[0-4]")
_ALERT_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def drill_alert(
    sample: dict[str, Any], fired_at: datetime, instance: str, severity: str | None = None
) -> dict[str, Any]:
    """The sample as a new firing of its rule, marked as a drill: its alert id ends in `instance`, it fired at
    `fired_at`, and its custom properties (the sample's, kept) carry firebell_drill = "true"."""
    document = copy.deepcopy(sample)
    data = document["data"]
    essentials = data["essentials"]
    path = str(essentials.get("alertId") or "").rsplit("/", 1)[0] or "/providers/Microsoft.AlertsManagement/alerts"
    essentials.update(alertId=f"{path}/{instance}", monitorCondition="Fired", firedDateTime=iso(fired_at))
    essentials.pop("resolvedDateTime", None)
    if severity is not None:
        essentials["severity"] = severity
    data["customProperties"] = {**(data.get("customProperties") or {}), DRILL_PROPERTY: "true"}
    return document


def drill_resolution(alert: dict[str, Any], resolved_at: datetime) -> dict[str, Any]:
    """The same drill alert, resolved."""
    document = copy.deepcopy(alert)
    document["data"]["essentials"].update(monitorCondition="Resolved", resolvedDateTime=iso(resolved_at))
    return document


def load_sample(name: str, folder: Path = SAMPLES) -> dict[str, Any]:
    """A complete common-alert-schema payload from the samples folder, by file name (or its number, e.g. 59)."""
    matches = sorted(path for path in folder.glob("*.json") if path.name == name or path.name.startswith(f"{name}_"))
    if not matches:
        known = ", ".join(sorted(path.name for path in folder.glob("*.json")))
        raise ValueError(f"no sample {name!r} in {folder}; known: {known}")
    document = json.loads(matches[0].read_text(encoding="utf-8"))
    if not isinstance(document.get("data"), dict) or not isinstance(document["data"].get("essentials"), dict):
        raise ValueError(f"{matches[0].name} is not a complete alert (no data.essentials)")
    return document


def fire(base: str, key: str, document: dict[str, Any], post: Callable[..., Any] = requests.post) -> dict[str, Any]:
    """POST the alert to {base}/api/alerts with the function key; Firebell's answer (incident, alert, outcome)."""
    answer = post(
        f"{base.rstrip('/')}/api/alerts",
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json", "x-functions-key": key},
        timeout=30,
    )
    if answer.status_code != 202:
        raise RuntimeError(f"POST /api/alerts answered {answer.status_code}: {answer.text[:300]}")
    return answer.json()


def run_drill(url: str, key: str, sample: str, severity: str | None, resolve: str | None) -> tuple[str, dict[str, Any]]:
    """Fire a drill alert (or resolve one by its id); (the alert id's instance, Firebell's answer). ValueError for a
    bad argument, RuntimeError or requests' errors when Firebell did not take it."""
    if severity is not None and not _SEVERITY.fullmatch(severity):
        raise ValueError(f"severity must be Sev0 to Sev4, got {severity!r}")
    if resolve is not None and not _ALERT_ID.fullmatch(resolve):
        raise ValueError("resolve takes the id the drill printed (letters, digits, . _ -)")
    now = utc_now()
    instance = resolve or str(uuid.uuid4())
    document = drill_alert(load_sample(sample), now, instance, severity)
    if resolve:
        document = drill_resolution(document, now)
    return instance, fire(url, key, document)


def said(instance: str, answer: dict[str, Any], resolved: bool) -> str:
    """What the tools print: the drill's incident, and how to resolve its alert."""
    verb = "resolved" if resolved else "fired"
    line = f"drill alert {instance} {verb}: {answer.get('incident') or 'no incident'} ({answer.get('outcome')})"
    return line if resolved else f"{line}; resolve it with --resolve {instance}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost.drill", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:7071", help="the running Firebell (default: the devhost)")
    parser.add_argument("--settings", type=Path, default=ROOT / "local.settings.json")
    parser.add_argument("--sample", default=DEFAULT_SAMPLE, help="a file of samples/azure-monitor/, or its number")
    parser.add_argument("--severity", help="Sev0 … Sev4 instead of the sample's (the default sample is Sev4)")
    parser.add_argument("--resolve", metavar="ID", help="resolve the drill alert fired before with this id")
    arguments = parser.parse_args(argv)
    load_local_settings(arguments.settings)
    key = os.environ.get("FIREBELL_FUNCTION_KEY", "")
    try:
        instance, answer = run_drill(arguments.url, key, arguments.sample, arguments.severity, arguments.resolve)
    except ValueError as problem:
        parser.error(str(problem))
    except (requests.RequestException, RuntimeError) as problem:
        print(f"drill: {problem}", file=sys.stderr)
        return 1
    print(said(instance, answer, bool(arguments.resolve)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
