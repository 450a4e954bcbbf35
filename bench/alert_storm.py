"""An alert storm through the devhost into Azurite: 5,000 alerts over 50 keys, repeats and resolves interleaved.

Prints throughput, latency and where the CPU went, Azurite's own raw table-upsert rate measured against the same
Azurite (the ceiling that puts the storm's figure in context), and verifies from the tables themselves: one
incident per key, no duplicates, nothing lost. Exits non-zero when a check fails.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
from azure.data.tables import TableClient, UpdateMode

from bench.catalog import UNGROUPED_RULE, write_config_dir
from bench.cpu import tree_cpu_seconds
from bench.figures import percentile, report
from devhost.azurite import ROOT, Azurite
from devhost.process import DevhostProcess
from shared.azure_monitor.alert import FIRED, RESOLVED
from shared.core.storage import StorageAccount
from shared.incidents.incident import MONITORING
from shared.incidents.timeline import ALERT_FIRED

ALERTS = int(os.environ.get("BENCH_ALERTS", "5000"))
KEYS = 50
CLIENTS = 16
RESOLVE_SHARE = 0.2  # of the deliveries after a key's first one
SEED = 9  # a fixed storm, so runs compare
UPSERTS = 2000
FUNCTION_KEY = "bench-key"
SAMPLE = ROOT / "samples" / "azure-monitor" / "59_test_action_metric_static_threshold.json"
TARGET_ALERTS_PER_SECOND = 100


# Azure Monitor retries a 503 up to 5 times (after 5, 20, 5, 40, 5 s); the storm does too, after a short pause.
RETRIES = 5
RETRY_PAUSE_SECONDS = 0.2


@dataclass(frozen=True)
class Answer:
    key: int
    condition: str
    status: int  # 0: no HTTP answer (connection error, timeout)
    seconds: float
    incident: str | None = None
    outcome: str | None = None
    retries: int = 0  # 503s retried, as Azure Monitor retries them


def alert_key(key: int) -> str:
    # The alert key is the last segment of essentials.alertId (a GUID in Azure).
    return f"00000000-5707-4000-8000-{key:012d}"


def alert_bodies(template: dict) -> dict[tuple[int, str], bytes]:
    """The two bodies of every key: its 'Fired' delivery and its 'Resolved' one (repeats resend the same bytes)."""
    bodies: dict[tuple[int, str], bytes] = {}
    for key in range(KEYS):
        for condition in (FIRED, RESOLVED):
            document = copy.deepcopy(template)
            essentials = document["data"]["essentials"]
            essentials["alertId"] = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{alert_key(key)}"
            essentials["alertRule"] = f"{UNGROUPED_RULE}-{key:02d}"
            essentials["monitorCondition"] = condition
            if condition == RESOLVED:
                essentials["resolvedDateTime"] = "2025-04-15T18:27:12.851Z"
            bodies[(key, condition)] = json.dumps(document).encode()
    return bodies


def storm_plan(alerts: int, seed: int) -> list[tuple[int, str]]:
    """Keys in a shuffled order; a key's first delivery fires, later ones repeat the firing or resolve it, and its
    last one resolves it (every alert of a storm settles, so the end state can be checked)."""
    rng = random.Random(seed)
    keys = [index % KEYS for index in range(alerts)]
    rng.shuffle(keys)
    last = {key: index for index, key in enumerate(keys)}
    seen: set[int] = set()
    plan: list[tuple[int, str]] = []
    for index, key in enumerate(keys):
        first = key not in seen
        seen.add(key)
        resolves = not first and (last[key] == index or rng.random() < RESOLVE_SHARE)
        plan.append((key, RESOLVED if resolves else FIRED))
    return plan


class CpuUsage:
    """CPU seconds of named process trees (and this process: the clients) from now until `since()`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._readers: dict[str, Callable[[], float]] = {
            name: (lambda pid=pid: tree_cpu_seconds(pid)) for name, pid in pids.items()
        }
        self._readers["clients"] = time.process_time
        self._start = {name: read() for name, read in self._readers.items()}

    def since(self) -> dict[str, float]:
        return {name: read() - self._start[name] for name, read in self._readers.items()}


def send_storm(url: str, plan: list[tuple[int, str]], bodies: dict[tuple[int, str], bytes]) -> list[Answer]:
    """CLIENTS threads, each with its own keep-alive session, take the next delivery of the plan until none is left."""
    answers: list[Answer] = []
    lock = threading.Lock()
    deliveries = iter(plan)

    def client() -> None:
        session = requests.Session()
        headers = {"Content-Type": "application/json"}
        while True:
            with lock:
                delivery = next(deliveries, None)
            if delivery is None:
                return
            key, condition = delivery
            for retries in range(RETRIES + 1):
                started = time.perf_counter()
                try:
                    response = session.post(url, data=bodies[delivery], headers=headers, timeout=30)
                except requests.RequestException:
                    answer = Answer(key, condition, 0, time.perf_counter() - started, retries=retries)
                    break
                seconds = time.perf_counter() - started
                body = response.json() if response.status_code == 202 else {}
                answer = Answer(
                    key, condition, response.status_code, seconds, body.get("incident"), body.get("outcome"), retries
                )
                if response.status_code != 503:
                    break
                time.sleep(RETRY_PAUSE_SECONDS)
            with lock:
                answers.append(answer)

    with ThreadPoolExecutor(CLIENTS, thread_name_prefix="storm") as pool:
        for future in [pool.submit(client) for _ in range(CLIENTS)]:
            future.result()
    return answers


def raw_upsert_rate(storage: Azurite) -> tuple[float, dict[str, float]]:
    """UPSERTS upsert_entity calls from CLIENTS threads straight to Azurite: what the emulator itself sustains,
    with the CPU seconds Azurite and the clients spent on them."""
    connection_string = storage.connection_string
    assert storage.process is not None
    StorageAccount(connection_string).table("rawupserts")  # created before the clock starts
    detail = "x" * 400  # about the size of an alert row's detail
    counter = iter(range(UPSERTS))
    lock = threading.Lock()

    def client() -> None:
        # A client per thread: one shared SDK transport pools only 10 connections and would measure the client.
        table = TableClient.from_connection_string(connection_string, "rawupserts")
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            entity = {"PartitionKey": f"p{number % KEYS}", "RowKey": f"r{number}", "detail": detail}
            table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    usage = CpuUsage({"Azurite": storage.process.pid})
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS, thread_name_prefix="upsert") as pool:
        for future in [pool.submit(client) for _ in range(CLIENTS)]:
            future.result()
    return UPSERTS / (time.perf_counter() - started), usage.since()


def verify(connection_string: str, answers: list[Answer]) -> list[tuple[str, bool, str]]:
    """Read the tables directly: (check, passed, detail) for every promise the storm must keep."""
    account = StorageAccount(connection_string)
    incidents = {
        entity["RowKey"]: entity
        for entity in account.table("incidents").query_entities(
            "PartitionKey eq 'incident' and RowKey ge 'INC-' and RowKey lt 'INC.'"
        )
    }
    bound = {
        entity["PartitionKey"]: entity.get("incident") or None for entity in account.table("alerts").list_entities()
    }
    conditions = {entity["PartitionKey"]: entity.get("condition") for entity in account.table("alerts").list_entities()}
    fired_events: dict[str, list[str]] = defaultdict(list)  # alert key → incidents whose timeline says it fired
    for event in account.table("timeline").query_entities(f"kind eq '{ALERT_FIRED}'"):
        fired_events[json.loads(event.get("data") or "{}").get("alert")].append(event["PartitionKey"])

    keys = [alert_key(key) for key in range(KEYS)]
    answered: dict[str, set[str]] = defaultdict(set)  # alert key → incidents the HTTP answers named
    for answer in answers:
        if answer.incident is not None:
            answered[alert_key(answer.key)].add(answer.incident)
    answered_ids: set[str] = set().union(*answered.values())

    owners = Counter(bound.get(key) for key in keys)
    unbound = [key for key in keys if not bound.get(key)]
    wrong_events = [key for key in keys if fired_events.get(key) != [bound.get(key)]]
    split = [key for key in keys if len(answered[key]) > 1 or answered[key] - {bound.get(key)}]
    lost = sorted(answered_ids - set(incidents))
    unsettled = sorted(ident for ident, entity in incidents.items() if entity.get("status") != MONITORING)
    unresolved = [key for key in keys if conditions.get(key) != RESOLVED]
    return [
        ("50 incidents", len(incidents) == KEYS, f"{len(incidents)} stored (expected {KEYS})"),
        (
            "one incident per key",
            not unbound and set(bound) == set(keys) and all(n == 1 for n in owners.values()),
            f"{len(bound)} alert rows, {len(unbound)} unbound, {sum(n > 1 for n in owners.values())} shared",
        ),
        ("one 'alert fired' per key", not wrong_events, f"{len(wrong_events)} keys with a missing or extra event"),
        ("answers agree with store", not split, f"{len(split)} keys answered with another or a second incident"),
        ("nothing lost", not lost and len(answered_ids) == KEYS, f"{len(lost)} answered incidents missing"),
        (
            "resolves applied",
            not unsettled and not unresolved,
            f"{len(unsettled)} incidents not in monitoring, {len(unresolved)} alerts not resolved",
        ),
    ]


def devhost_invocations(log: str) -> dict[str, tuple[int, int, float]]:
    """Per function, from the devhost's one line per invocation: (invocations, failed, seconds spent)."""
    found: dict[str, tuple[int, int, float]] = {}
    for name, milliseconds, outcome in _INVOCATION.findall(log):
        count, failed, seconds = found.get(name, (0, 0, 0.0))
        found[name] = (count + 1, failed + (outcome != "succeeded"), seconds + float(milliseconds) / 1000)
    return found


def outcome_note(outcomes: Counter[str | None]) -> str:
    """Why outcome counts differ from the plan under concurrency (not a loss: the checks say so)."""
    notes = []
    if outcomes["opened"] > KEYS:
        # A repeat that finds its key claimed but the incident not yet written finishes the opening itself.
        notes.append(f"{outcomes['opened'] - KEYS} repeats finished an opening still in flight")
    if outcomes["logged"]:
        # Sent after its key's first firing, a resolve can still be processed first: it waits for the firing.
        notes.append(f"{outcomes['logged']} resolve(s) overtook their alert's first firing and waited for it")
    return f"({'; '.join(notes)})" if notes else ""


_INVOCATION = re.compile(r"function=(\w+) trigger=\w+ duration_ms=([\d.]+) outcome=(\w+)")


def main() -> None:
    bodies = alert_bodies(json.loads(SAMPLE.read_text()))
    plan = storm_plan(ALERTS, SEED)
    with tempfile.TemporaryDirectory(prefix="firebell-bench-") as config, Azurite() as storage:
        # Before the storm, so the devhost's queue polling does not share Azurite with it.
        upserts_per_second, upsert_cpu = raw_upsert_rate(storage)
        environment = {
            "FIREBELL_FUNCTION_KEY": FUNCTION_KEY,
            "FIREBELL_CONFIG_DIR": str(write_config_dir(Path(config))),
        }
        with DevhostProcess(storage.connection_string, environment) as host:
            assert host.process is not None and storage.process is not None
            usage = CpuUsage({"Azurite": storage.process.pid, "devhost": host.process.pid})
            started = time.perf_counter()
            answers = send_storm(f"{host.url}/api/alerts?code={FUNCTION_KEY}", plan, bodies)
            duration = time.perf_counter() - started
            cpu = usage.since()
            invocations = devhost_invocations(host.stop())
        checks = verify(storage.connection_string, answers)

    accepted = [answer for answer in answers if answer.status == 202]
    failed = Counter(answer.status for answer in answers if answer.status != 202)
    latencies = [answer.seconds for answer in accepted] or [0.0]
    outcomes = Counter(answer.outcome for answer in accepted)
    rate = len(accepted) / duration
    resolves = sum(condition == RESOLVED for _, condition in plan)
    report(
        f"Alert storm through the devhost into Azurite ({ALERTS} alerts, {KEYS} keys, {CLIENTS} concurrent clients)",
        [
            ("alerts sent", f"{len(answers)} ({ALERTS - resolves} fired, {resolves} resolved, shuffled)"),
            ("accepted (202)", f"{len(accepted)} ({sum(a.retries for a in answers)} 503s retried first)"),
            ("failed", f"{sum(failed.values())}" + (f" {dict(failed)} (0: no answer)" if failed else "")),
            ("outcomes", " · ".join(f"{name} {count}" for name, count in sorted(outcomes.items(), key=str))),
            *((("", note),) if (note := outcome_note(outcomes)) else ()),
            ("duration", f"{duration:.1f} s"),
            (
                f"throughput (target ≥ {TARGET_ALERTS_PER_SECOND})",
                f"{rate:.0f} alerts/s — {'met' if rate >= TARGET_ALERTS_PER_SECOND else 'NOT MET'}",
            ),
            ("latency p50", f"{percentile(latencies, 0.50) * 1000:.1f} ms"),
            ("latency p99", f"{percentile(latencies, 0.99) * 1000:.1f} ms"),
            ("latency max", f"{max(latencies) * 1000:.1f} ms"),
            (
                "CPU during the storm",
                ", ".join(f"{name} {seconds:.1f} s" for name, seconds in cpu.items())
                + f" (of {2 * duration:.0f} core-seconds on 2 cores)",
            ),
            (
                "devhost CPU per alert",
                f"{cpu['devhost'] / max(len(accepted), 1) * 1000:.1f} ms (HTTP and background processes, every "
                "descendant; Azurite's own is apart)",
            ),
            (
                "devhost invocations",
                "; ".join(
                    f"{name} {count} ({failures} failed, {seconds:.1f} s wall summed)"
                    for name, (count, failures, seconds) in sorted(invocations.items())
                ),
            ),
            *((f"check: {name}", f"{'ok' if ok else 'FAILED'} — {detail}") for name, ok, detail in checks),
            (
                "Azurite raw upserts",
                f"{upserts_per_second:.0f} upserts/s ({UPSERTS} upsert_entity calls, {CLIENTS} threads, same Azurite)",
            ),
            (
                "CPU during the upserts",
                ", ".join(f"{name} {seconds:.1f} s" for name, seconds in upsert_cpu.items())
                + f" (of {UPSERTS / upserts_per_second:.1f} s)",
            ),
            (
                "storm vs raw",
                f"{rate / upserts_per_second * 100:.0f}% of the raw upsert rate in alerts; each alert costs 3–8 "
                "storage requests (above)",
            ),
        ],
    )
    if failed or any(not ok for _, ok, _ in checks):
        problems = [name for name, ok, _ in checks if not ok] + ([f"{sum(failed.values())} failed"] if failed else [])
        raise SystemExit(f"alert storm: {', '.join(problems)}")


if __name__ == "__main__":
    main()
