"""An alert storm through the devhost into Azurite: 5,000 alerts over 50 keys, repeats and resolves interleaved.

Run twice, through one devhost instance and through two (`--instances 2`), each on an Azurite of its own. Prints
throughput, latency and where the CPU went — how much of the machine's 2 cores the run kept busy, which bounds what
a second instance can add — Azurite's own raw table-upsert rate (the ceiling that puts the storm's figure in
context), and verifies from the tables themselves: one incident per key, no duplicates, nothing lost. Exits
non-zero when a check fails.
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
from bench.cpu import machine_cpu_seconds, tree_cpu_seconds
from bench.figures import percentile, report
from devhost.azurite import ROOT, Azurite
from devhost.process import DevhostProcess
from shared.azure_monitor.alert import FIRED, RESOLVED
from shared.core.storage import StorageAccount
from shared.incidents.incident import MONITORING
from shared.incidents.store import IncidentStore
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
    store = IncidentStore(account)
    records = {alert_key(key): store.find_alert(alert_key(key), first_release=False) for key in range(KEYS)}
    bound = {key: record.incident_id for key, record in records.items() if record is not None}
    conditions = {key: record.condition for key, record in records.items() if record is not None}
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


@dataclass(frozen=True)
class StormRun:
    instances: int
    answers: list[Answer]
    duration: float
    cpu: dict[str, float]
    invocations: dict[str, tuple[int, int, float]]
    checks: list[tuple[str, bool, str]]
    machine_cpu: float  # every process on the machine, the run's own included

    @property
    def accepted(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.status == 202]

    @property
    def rate(self) -> float:
        return len(self.accepted) / self.duration

    @property
    def cores_busy(self) -> float:
        """How much of the machine's 2 cores the devhost, Azurite and the clients kept busy: near 2, more
        instances have nothing left to run on."""
        return sum(self.cpu.values()) / self.duration


def storm(instances: int, bodies: dict[tuple[int, str], bytes], plan: list[tuple[int, str]]) -> StormRun:
    """The storm through a devhost of `instances` HTTP and background processes, on an Azurite of its own."""
    with tempfile.TemporaryDirectory(prefix="firebell-bench-") as config, Azurite() as storage:
        environment = {
            "FIREBELL_FUNCTION_KEY": FUNCTION_KEY,
            "FIREBELL_CONFIG_DIR": str(write_config_dir(Path(config))),
        }
        with DevhostProcess(storage.connection_string, environment, instances=instances) as host:
            assert host.process is not None and storage.process is not None
            usage = CpuUsage({"Azurite": storage.process.pid, "devhost": host.process.pid})
            machine = machine_cpu_seconds()
            started = time.perf_counter()
            answers = send_storm(f"{host.url}/api/alerts?code={FUNCTION_KEY}", plan, bodies)
            duration = time.perf_counter() - started
            machine = machine_cpu_seconds() - machine
            cpu = usage.since()
            invocations = devhost_invocations(host.stop())
        checks = verify(storage.connection_string, answers)
        return StormRun(instances, answers, duration, cpu, invocations, checks, machine)


def main() -> None:
    bodies = alert_bodies(json.loads(SAMPLE.read_text()))
    plan = storm_plan(ALERTS, SEED)
    with Azurite() as storage:
        # Alone on its Azurite, so nothing else shares the emulator with it.
        upserts_per_second, upsert_cpu = raw_upsert_rate(storage)
    runs = [storm(instances, bodies, plan) for instances in (1, 2)]
    one, two = runs
    resolves = sum(condition == RESOLVED for _, condition in plan)
    rows: list[tuple[str, str]] = [
        ("alerts sent", f"{len(plan)} ({ALERTS - resolves} fired, {resolves} resolved, shuffled), each run"),
    ]
    for run in runs:
        rows.extend(_run_rows(run, upserts_per_second))
    scale = two.rate / one.rate
    rows += [
        (
            "Azurite raw upserts",
            f"{upserts_per_second:.0f} upserts/s ({UPSERTS} upsert_entity calls, {CLIENTS} threads, an Azurite alone)"
            + f"; CPU {', '.join(f'{name} {seconds:.1f} s' for name, seconds in upsert_cpu.items())}"
            + f" of {UPSERTS / upserts_per_second:.1f} s",
        ),
        (
            "storm vs raw, one instance (target ≥ 40 %)",
            f"{one.rate / upserts_per_second * 100:.0f} % of the raw upsert rate in alerts (each alert costs 2–9 "
            "storage requests)",
        ),
        (
            "two instances vs one (target ≥ 1.6×)",
            f"{scale:.2f}× — with one instance the machine was {one.machine_cpu / one.duration:.2f} of 2 cores busy "
            f"({one.cores_busy:.2f} the storm's own: devhost, Azurite, clients), so a second instance had "
            f"{max(2 - one.machine_cpu / one.duration, 0):.2f} cores to add",
        ),
    ]
    report(
        f"Alert storm through the devhost into Azurite ({ALERTS} alerts, {KEYS} keys, {CLIENTS} concurrent clients), "
        "one instance then two",
        rows,
    )
    problems = [f"{run.instances} instance(s): {name}" for run in runs for name, ok, _ in run.checks if not ok] + [
        f"{run.instances} instance(s): {len(run.answers) - len(run.accepted)} failed"
        for run in runs
        if len(run.answers) != len(run.accepted)
    ]
    if problems:
        raise SystemExit(f"alert storm: {', '.join(problems)}")


def _run_rows(run: StormRun, upserts_per_second: float) -> list[tuple[str, str]]:
    label = f"{run.instances} instance{'s' if run.instances > 1 else ''}"
    accepted = run.accepted
    failed = Counter(answer.status for answer in run.answers if answer.status != 202)
    latencies = [answer.seconds for answer in accepted] or [0.0]
    outcomes = Counter(answer.outcome for answer in accepted)
    return [
        (f"{label}: accepted (202)", f"{len(accepted)} ({sum(a.retries for a in run.answers)} 503s retried first)"),
        (f"{label}: failed", f"{sum(failed.values())}" + (f" {dict(failed)} (0: no answer)" if failed else "")),
        (
            f"{label}: outcomes",
            " · ".join(f"{name} {count}" for name, count in sorted(outcomes.items(), key=str))
            + (f" {note}" if (note := outcome_note(outcomes)) else ""),
        ),
        (
            f"{label}: throughput (target ≥ {TARGET_ALERTS_PER_SECOND})",
            f"{run.rate:.0f} alerts/s in {run.duration:.1f} s — "
            + ("met" if run.rate >= TARGET_ALERTS_PER_SECOND else "NOT MET")
            + f"; {run.rate / upserts_per_second * 100:.0f} % of the raw upsert rate",
        ),
        (
            f"{label}: latency",
            f"p50 {percentile(latencies, 0.50) * 1000:.1f} ms, p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms",
        ),
        (
            f"{label}: CPU",
            ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run.cpu.items())
            + f" = {run.cores_busy:.2f} of 2 cores busy (the whole machine {run.machine_cpu / run.duration:.2f}: the "
            "rest is other work); devhost "
            f"{run.cpu['devhost'] / max(len(accepted), 1) * 1000:.1f} ms per alert (every process of it)",
        ),
        (
            f"{label}: invocations",
            "; ".join(
                f"{name} {count} ({failures} failed, {seconds:.1f} s wall summed)"
                for name, (count, failures, seconds) in sorted(run.invocations.items())
            ),
        ),
        *((f"{label}: check {name}", f"{'ok' if ok else 'FAILED'} — {detail}") for name, ok, detail in run.checks),
    ]


if __name__ == "__main__":
    main()
