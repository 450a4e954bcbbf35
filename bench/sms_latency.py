"""Incident opened → first SMS: from POST /api/alerts to the on-call responder's SMS request arriving at a local
Communication Services stand-in, whose rules say "SMS at once" (people.toml `notify`).

The devhost runs the real app over Azurite, as bench/notification_latency.py does for the Teams card: the alerts
function announces the change on `notifications`, whose function runs escalation step 0, posts the card, and sends
the SMS of the paged person's first SMS rule step in the same invocation (shared.contacts.contact.start_ladder).
Alerts are paced so that each finds the queue listener backed off to host.json's maxPollingInterval. Target: p95 < 2 s.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from bench.figures import latency_rows, report
from bench.notification_latency import KEY, ONCALL, send_paced
from devhost.azurite import ROOT, Azurite
from devhost.hostjson import load_host_options
from devhost.process import DevhostProcess
from tests.standins.acs_server import ACCESS_KEY, FROM_NUMBER, AcsServer
from tests.standins.workflow_server import WorkflowServer

ALERTS = 20
PACE_SECONDS = 3.2
TARGET_P95 = 2.0
# Aiko Tanaka (platform primary, build-agents' roster) with a phone and the rule "SMS at once".
AIKO = 'aad_object_id = "c82f1b47-6e09-4a3d-b5c7-1f4e8a2d9c63"\n'
AIKO_RULES = """phone = "+81355501234"
notify = { high = [{ channel = "teams" }, { channel = "sms" }, { channel = "sms", after_minutes = 5 }] }
"""


def _config(folder: Path) -> Path:
    for name in ("services.toml", "escalations.toml"):
        (folder / name).write_text((ROOT / "config" / name).read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "oncall.toml").write_text(ONCALL, encoding="utf-8")
    people = (ROOT / "config" / "people.toml").read_text(encoding="utf-8")
    assert AIKO in people, "config/people.toml changed: Aiko Tanaka's entry is where her rules go"
    (folder / "people.toml").write_text(people.replace(AIKO, AIKO + AIKO_RULES), encoding="utf-8")
    return folder


def main() -> None:
    polling = load_host_options(ROOT / "host.json").queues.max_polling_interval
    latencies: list[float] = []
    failures: list[str] = []
    with (
        tempfile.TemporaryDirectory() as folder,
        Azurite() as storage,
        WorkflowServer() as workflow,
        AcsServer() as acs,
        DevhostProcess(
            storage.connection_string,
            {
                "FIREBELL_FUNCTION_KEY": KEY,
                "FIREBELL_CONFIG_DIR": str(_config(Path(folder))),
                "TEAMS_WORKFLOW_URL": workflow.url,
                "STATUS_PAGE_URL": "http://127.0.0.1/status/",
                "ACS_ENDPOINT": acs.endpoint,
                "ACS_ACCESS_KEY": ACCESS_KEY,
                "ACS_FROM_NUMBER": FROM_NUMBER,
                "FIREBELL_ACK_LINK_KEY": "bench-ack-link-key",
            },
        ) as host,
    ):
        sent = send_paced(host.url, ALERTS, PACE_SECONDS, polling, acs.wait_for, failures)
        for sms in acs.sms():
            incident = re.search(r"\b(INC-[0-9]+):", sms.message)
            if incident and incident[1] in sent:
                latencies.append(sms.arrived - sent[incident[1]])
    if not latencies:
        raise SystemExit(f"SMS benchmark: no SMS arrived ({failures[:3]})")
    report(
        f"Alert → first SMS request at the Communication Services stand-in through the devhost ({ALERTS} alerts, "
        f'{PACE_SECONDS:.1f}+ s apart, rule "SMS at once"; maxPollingInterval {polling:.0f} s)',
        [
            ("SMS received", f"{len(latencies)} of {ALERTS}"),
            *latency_rows(latencies, TARGET_P95),
        ],
    )
    if failures:
        raise SystemExit(f"SMS benchmark: {len(failures)} alerts failed: {failures[:3]}")


if __name__ == "__main__":
    main()
