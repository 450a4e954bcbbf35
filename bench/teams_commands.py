"""Teams ChatOps handler latency: signed `@firebell` commands through the devhost into Azurite.

Teams waits at most 5 s for a reply; the issue's budget is p99 ≤ 250 ms. Eight responders work four incidents at
once, mixing the commands a real incident sees (notes, status cards, acknowledgements, role changes, public updates).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.figures import percentile, report
from devhost.azurite import ROOT, Azurite
from devhost.process import DevhostProcess
from shared.timeutil import iso, utc_now

TOKEN = base64.b64encode(b"bench-teams-security-token").decode()
RESPONDERS = 8
INCIDENTS = 4
COMMANDS_PER_RESPONDER = 60
SCRIPT = [
    "note INC-{n} looking at the dashboards",
    "status INC-{n}",
    "ack INC-{n}",
    "role INC-{n} sme {who}",
    "update INC-{n} investigating We are looking into errors. Next update in 30 min",
    "INC-{n} errors are down to 2%",
    "timeline INC-{n}",
]


def _activity(text: str, who: str, number: int) -> bytes:
    return json.dumps(
        {
            "type": "message",
            "id": f"bench-{number}",
            "timestamp": iso(utc_now()),
            "from": {"id": f"29:{who}", "name": who},
            "text": f"<at>Firebell</at> {text}",
        }
    ).encode()


def _signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(base64.b64decode(TOKEN), body, hashlib.sha256).digest()
    return {"Authorization": f"HMAC {base64.b64encode(digest).decode()}", "Content-Type": "application/json"}


def main() -> None:
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    numbers = itertools.count()
    with (
        Azurite() as storage,
        DevhostProcess(
            storage.connection_string,
            {"TEAMS_OUTGOING_WEBHOOK_TOKEN": TOKEN, "FIREBELL_CONFIG_DIR": str(ROOT / "config")},
        ) as host,
    ):
        url = f"{host.url}/api/teams"
        for n in range(INCIDENTS):
            body = _activity(f"declare 2 Bench incident {n}", "Commander", next(numbers))
            requests.post(url, data=body, headers=_signed(body), timeout=30).raise_for_status()

        def responder(index: int) -> None:
            session, who = requests.Session(), f"Responder {index}"
            for step in range(COMMANDS_PER_RESPONDER):
                text = SCRIPT[step % len(SCRIPT)].format(n=1 + (index + step) % INCIDENTS, who=who)
                with lock:
                    number = next(numbers)
                body = _activity(text, who, number)
                started = time.perf_counter()
                answer = session.post(url, data=body, headers=_signed(body), timeout=30)
                elapsed = time.perf_counter() - started
                with lock:
                    (latencies.append(elapsed) if answer.status_code == 200 else failures.append(answer.status_code))

        started = time.monotonic()
        with ThreadPoolExecutor(RESPONDERS) as pool:
            list(pool.map(responder, range(RESPONDERS)))
        duration = time.monotonic() - started
    p99 = percentile(latencies, 0.99) * 1000
    report(
        f"Teams commands through the devhost ({RESPONDERS} responders, {INCIDENTS} incidents, Azurite)",
        [
            ("commands answered", f"{len(latencies)} ({len(failures)} failed)"),
            ("throughput", f"{len(latencies) / duration:.0f} commands/s"),
            ("latency p50", f"{percentile(latencies, 0.50) * 1000:.1f} ms"),
            ("latency p99 (target ≤ 250 ms)", f"{p99:.1f} ms — {'met' if p99 <= 250 else 'NOT MET'}"),
            ("latency max", f"{max(latencies) * 1000:.1f} ms"),
        ],
    )
    if failures:
        raise SystemExit(f"teams benchmark: {len(failures)} commands failed ({sorted(set(failures))})")


if __name__ == "__main__":
    main()
