"""Teams ChatOps handler latency: signed `@firebell` commands through the devhost into Azurite.

Teams waits at most 5 s for a reply; the issue's budget is p99 ≤ 250 ms. Eight responders work four incidents at
once, mixing the commands a real incident sees (notes, status cards, acknowledgements, role changes, public updates):
first at a busy but human pace (20 commands/s in all, latency is the figure), then as fast as they can (saturation:
throughput is the figure, latency there is mostly queueing on the 2 cores that also run Azurite and the clients).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from bench.figures import percentile, report
from devhost.azurite import ROOT, Azurite
from devhost.demo import teams_sender
from devhost.process import DevhostProcess
from shared.core.timeutil import iso, utc_now
from shared.oncall.people import load_directory

TOKEN = base64.b64encode(b"bench-teams-security-token").decode()
RESPONDERS = 8
INCIDENTS = 4
COMMANDS_PER_RESPONDER = 60
PACED_RATE = 20.0  # commands/s across all responders
SCRIPT = [
    "note INC-{n} looking at the dashboards",
    "status INC-{n}",
    "ack INC-{n}",
    "role INC-{n} sme {who}",
    "update INC-{n} investigating We are looking into errors. Next update in 30 min",
    "INC-{n} errors are down to 2%",
    "timeline INC-{n}",
]


PEOPLE = load_directory(ROOT / "config")  # the responders: people.toml's, as Teams identifies them


def _activity(text: str, who: str, number: int) -> bytes:
    return json.dumps(
        {
            "type": "message",
            "id": f"bench-{number}",
            "timestamp": iso(utc_now()),
            "from": teams_sender(who, PEOPLE),
            "text": f"<at>Firebell</at> {text}",
        }
    ).encode()


def _signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(base64.b64decode(TOKEN), body, hashlib.sha256).digest()
    return {"Authorization": f"HMAC {base64.b64encode(digest).decode()}", "Content-Type": "application/json"}


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    duration: float = 0.0


def _run(url: str, numbers: Iterator[int], interval: float) -> Run:
    """Every responder sends its script; with `interval`, each waits that long between its commands."""
    run, lock = Run(), threading.Lock()

    def responder(index: int) -> None:
        # Listed people, so commands act; those off an incident's roster are refused some (`update`), as in life.
        session, who = requests.Session(), PEOPLE.people[index % len(PEOPLE.people)].name
        time.sleep(interval * index / RESPONDERS)  # spread the paced responders over the interval
        for step in range(COMMANDS_PER_RESPONDER):
            text = SCRIPT[step % len(SCRIPT)].format(n=1 + (index + step) % INCIDENTS, who=who)
            with lock:
                number = next(numbers)
            body = _activity(text, who, number)
            started = time.perf_counter()
            answer = session.post(url, data=body, headers=_signed(body), timeout=30)
            elapsed = time.perf_counter() - started
            with lock:
                if answer.status_code == 200:
                    run.latencies.append(elapsed)
                else:
                    run.failures.append(answer.status_code)
            time.sleep(max(0.0, interval - elapsed))

    started = time.monotonic()
    with ThreadPoolExecutor(RESPONDERS) as pool:
        list(pool.map(responder, range(RESPONDERS)))
    run.duration = time.monotonic() - started
    return run


def main() -> None:
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
            body = _activity(f"declare 2 Bench incident {n}", "Tim Jones", next(numbers))
            requests.post(url, data=body, headers=_signed(body), timeout=30).raise_for_status()

        paced = _run(url, numbers, interval=RESPONDERS / PACED_RATE)
        saturated = _run(url, numbers, interval=0.0)
    p99 = percentile(paced.latencies, 0.99) * 1000
    report(
        f"Teams commands through the devhost ({RESPONDERS} responders, {INCIDENTS} incidents, Azurite)",
        [
            (f"paced at {PACED_RATE:.0f} commands/s", f"{len(paced.latencies)} answered, {len(paced.failures)} failed"),
            ("  latency p50", f"{percentile(paced.latencies, 0.50) * 1000:.1f} ms"),
            ("  latency p99 (target ≤ 250 ms)", f"{p99:.1f} ms — {'met' if p99 <= 250 else 'NOT MET'}"),
            ("as fast as they can", f"{len(saturated.latencies)} answered, {len(saturated.failures)} failed"),
            ("  throughput", f"{len(saturated.latencies) / saturated.duration:.0f} commands/s"),
            (
                "  latency p50 / p99",
                f"{percentile(saturated.latencies, 0.5) * 1000:.0f} / "
                f"{percentile(saturated.latencies, 0.99) * 1000:.0f} ms (queueing)",
            ),
        ],
    )
    failures = paced.failures + saturated.failures
    if failures:
        raise SystemExit(f"teams benchmark: {len(failures)} commands failed ({sorted(set(failures))})")


if __name__ == "__main__":
    main()
