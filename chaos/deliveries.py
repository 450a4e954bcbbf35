"""An alert storm as Azure Monitor delivers it on a bad day: alerts of many groups in shuffled order, fired times
that disagree with the order they arrive in, some delivered twice, each at its own moment of the run."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from devhost.azurite import ROOT

SAMPLE = ROOT / "samples" / "azure-monitor" / "59_test_action_metric_static_threshold.json"
SERVICE = "build-agents"  # config/services.toml: one incident per alert rule, owned by the platform roster
FIRED_SPREAD = timedelta(minutes=10)  # fired times fall anywhere in the ten minutes before the storm


@dataclass(frozen=True)
class Delivery:
    at: float  # seconds after the storm starts
    alert: int  # which alert (a duplicate repeats another delivery's number and bytes)
    group: int  # which alert rule: the incident it belongs to
    body: bytes


def rule(group: int) -> str:
    return f"chaos-rule-{group:02d}"


def storm(alerts: int, groups: int, duplicates: float, spread_seconds: float, seed: int) -> list[Delivery]:
    """`alerts` deliveries, `duplicates` of them (a share) repeats of another, over `groups` alert rules of one
    service, each delivered at a random moment of the first `spread_seconds`; ordered by that moment."""
    rng = random.Random(seed)
    template = json.loads(SAMPLE.read_text(encoding="utf-8"))
    now = datetime.now(UTC)
    distinct = alerts - round(alerts * duplicates)
    bodies = [
        _alert(template, number, number % groups, now - rng.random() * FIRED_SPREAD) for number in range(distinct)
    ]
    picked = list(range(distinct)) + [rng.randrange(distinct) for _ in range(alerts - distinct)]
    deliveries = [
        Delivery(rng.uniform(0, spread_seconds), number, number % groups, bodies[number]) for number in picked
    ]
    return sorted(deliveries, key=lambda delivery: delivery.at)


def _alert(template: dict, number: int, group: int, fired: datetime) -> bytes:
    document = copy.deepcopy(template)
    essentials = document["data"]["essentials"]
    essentials.update(
        alertId=f"/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.AlertsManagement/alerts/"
        f"00000000-c4a0-4000-8000-{number:012d}",
        alertRule=rule(group),
        severity="Sev1",  # SEV2: the standard escalation policy, whose second step comes 5 minutes on
        firedDateTime=fired.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    )
    document["data"]["customProperties"] = {"service": SERVICE}
    return json.dumps(document).encode()
