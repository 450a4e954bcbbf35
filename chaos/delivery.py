"""Delivery chaos: an alert storm over many groups, in shuffled order with shuffled fired times, a share delivered
twice, each at its own moment of the run, while a share of every queue message the app sends is lost (a proxy in
front of Azurite's queue service answers Put Message 201 and never stores it).

Invariants: one incident per group; every incident paged (lost announcements are caught by the page outbox and the
sweeper); at most one card per (incident, kind, step); no poison messages; no alert answered 500. Figures: also the
first page's latency from the incident's opening to its card at the Workflows stand-in, for pages the notifications
consumer started and for those the sweeper started (≥ PAGE_BOUND late by design).
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.cpu import MachineShare, MachineWatch
from bench.figures import percentile
from chaos import Figures, rig
from chaos.deliveries import storm
from chaos.readback import Paging, cards_per_key, first_pages, paging, poison_messages
from chaos.sender import Answer, send
from devhost.azurite import Azurite
from devhost.process import DevhostProcess
from shared.core.queues import QUEUES
from shared.notifications.sweep import PAGE_BOUND
from tests.standins.faulty_storage import FaultyStorage
from tests.standins.workflow_server import WorkflowServer

SEED = 13
TARGET_P95_SECONDS = 2.0
# The sweeper starts a page PAGE_BOUND after it was due, on a 10 s tick: every page is out by then, with a margin.
SETTLE_SECONDS = PAGE_BOUND.total_seconds() + 10 + 15


@dataclass(frozen=True)
class Size:
    alerts: int
    groups: int
    spread_seconds: float  # deliveries fall anywhere in the run's first spread_seconds
    duplicates: float = 0.2
    dropped: float = 0.1  # share of queue messages lost


SIZES = {
    "full": Size(alerts=1000, groups=50, spread_seconds=30.0),
    # Small, and with more messages lost so that a lost announcement (and the sweeper) is all but certain.
    "fast": Size(alerts=150, groups=15, spread_seconds=3.0, dropped=0.25),
}


@dataclass(frozen=True)
class Outcome:
    size: Size
    answers: list[Answer]
    incidents: dict[str, Paging]
    first_pages: dict[str, datetime]  # incident → first paged card's arrival
    cards: Counter[tuple[str, str, str]]  # (incident, kind, step) → cards received
    poison: int
    put: Counter[str]  # queue → Put Message requests the app sent
    dropped: Counter[str]  # queue → of them lost
    settled_after: float  # seconds from the last answer until every incident had paged (or the bound)
    requests: list[int]  # cards carried by each request the Workflows stand-in accepted
    machine: (
        MachineShare  # while the alerts were sent: the run's share of the cores, other processes', the host's steal
    )

    @property
    def statuses(self) -> Counter[int]:
        return Counter(answer.status for answer in self.answers)

    @property
    def unpaged(self) -> list[str]:
        """Incidents with no paged card at the channel, or whose timeline does not say it paged."""
        return sorted(
            ident for ident, found in self.incidents.items() if not found.paged or ident not in self.first_pages
        )

    def latencies(self, swept: bool) -> list[float]:
        return [
            (self.first_pages[ident] - found.opened).total_seconds()
            for ident, found in self.incidents.items()
            if found.swept == swept and ident in self.first_pages
        ]


def measure(size: Size, azurite: Azurite | None = None) -> Outcome:
    """The run, on `azurite` (its storage empty) or on an Azurite of its own."""
    deliveries = storm(size.alerts, size.groups, size.duplicates, size.spread_seconds, SEED)
    with (
        tempfile.TemporaryDirectory(prefix="firebell-chaos-") as folder,
        rig.storage(azurite) as storage,
        FaultyStorage(rig.endpoint(storage.connection_string, "Queue").rsplit("/", 1)[0], service="queue") as queues,
        WorkflowServer() as workflow,
    ):
        environment = rig.environment(rig.config_dir(Path(folder)), workflow.url)
        through_proxy = rig.through(storage.connection_string, "Queue", queues.base)
        with DevhostProcess(through_proxy, environment) as host:
            queues.drop_messages(size.dropped, frozenset(QUEUES), seed=SEED)
            watch = MachineWatch()
            answers = send(f"{host.url}/api/alerts?code={rig.FUNCTION_KEY}", deliveries)
            machine = watch.share()
            last_answer = max(answer.answered for answer in answers)
            settled_after = _until_all_paged(storage.connection_string, workflow, SETTLE_SECONDS) - last_answer
            time.sleep(1)  # a card delivered twice would arrive moments after the first
        delivered = workflow.delivered()
        accepted = [r for r in workflow.requests() if 200 <= r.status < 300]
        return Outcome(
            size=size,
            answers=answers,
            incidents=paging(storage.connection_string),
            first_pages=first_pages(delivered),
            cards=cards_per_key(delivered),
            poison=poison_messages(storage.connection_string),
            put=Counter(queues.put),
            dropped=Counter(queues.dropped),
            settled_after=settled_after,
            requests=[len(r.message["attachments"]) for r in accepted],
            machine=machine,
        )


def _until_all_paged(connection_string: str, workflow: WorkflowServer, bound: float) -> float:
    """The moment every incident in the store has a paged card (monotonic), or the bound's end."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        incidents = paging(connection_string)
        paged = first_pages(workflow.delivered())
        if incidents and all(found.paged and ident in paged for ident, found in incidents.items()):
            return time.monotonic()
        time.sleep(0.5)
    return time.monotonic()


def broken(outcome: Outcome) -> list[str]:
    groups = {answer.delivery.group for answer in outcome.answers}
    problems = []
    if len(outcome.incidents) != len(groups):
        problems.append(f"{len(outcome.incidents)} incidents for {len(groups)} groups")
    if outcome.unpaged:
        problems.append(f"{len(outcome.unpaged)} incidents never paged ({', '.join(outcome.unpaged[:5])})")
    if outcome.cards and max(outcome.cards.values()) > 1:
        repeated = sorted(key for key, count in outcome.cards.items() if count > 1)
        problems.append(f"{len(repeated)} cards sent more than once ({repeated[:3]})")
    if outcome.poison:
        problems.append(f"{outcome.poison} poison messages")
    if outcome.statuses[500]:
        problems.append(f"{outcome.statuses[500]} alerts answered 500")
    return problems


def _spread(samples: list[float]) -> str:
    if not samples:
        return "none"
    return (
        f"{len(samples)} pages: p50 {percentile(samples, 0.5):.2f} s, p95 {percentile(samples, 0.95):.2f} s, "
        f"max {max(samples):.2f} s"
    )


def figures(outcome: Outcome) -> Figures:
    size = outcome.size
    statuses = outcome.statuses
    distinct = size.alerts - round(size.alerts * size.duplicates)
    consumer = outcome.latencies(swept=False)
    p95 = percentile(consumer, 0.95) if consumer else float("nan")
    others = {status: count for status, count in sorted(statuses.items()) if status != 202}
    return Figures(
        f"Delivery chaos through the devhost ({size.alerts} alerts over {size.groups} groups, "
        f"{size.duplicates:.0%} duplicates, {size.dropped:.0%} of queue messages lost, delivered over "
        f"0–{size.spread_seconds:.0f} s)",
        [
            ("alerts sent", f"{len(outcome.answers)} ({distinct} distinct, {size.alerts - distinct} duplicates)"),
            ("answered 202", f"{statuses[202]} ({sum(answer.retried for answer in outcome.answers)} retries first)"),
            ("answered non-202", f"{sum(others.values())}" + (f" by status {others} (0: no answer)" if others else "")),
            (
                "queue messages lost",
                f"{sum(outcome.dropped.values())} of {sum(outcome.put.values())} sent ("
                + ", ".join(f"{queue} {outcome.dropped[queue]}/{outcome.put[queue]}" for queue in sorted(outcome.put))
                + ")",
            ),
            ("incidents opened", f"{len(outcome.incidents)} (one per group: {size.groups})"),
            ("incidents never paged", str(len(outcome.unpaged))),
            (
                f"first page, consumer (target p95 ≤ {TARGET_P95_SECONDS:.0f} s)",
                _spread(consumer) + (" — met" if p95 <= TARGET_P95_SECONDS else " — NOT MET"),
            ),
            (
                "  Workflows requests (one URL, 4 per 1.05 s)",
                f"{len(outcome.requests)} for {sum(outcome.requests)} cards, at most "
                f"{max(outcome.requests, default=0)} in one (cards waiting share a request)",
            ),
            (f"first page, sweeper (bound {PAGE_BOUND.seconds} s)", _spread(outcome.latencies(swept=True))),
            (
                "cards per (incident, kind, step)",
                f"max {max(outcome.cards.values(), default=0)} ({sum(outcome.cards.values())} cards)",
            ),
            ("poison messages", str(outcome.poison)),
            ("last answer → all paged", f"{outcome.settled_after:.1f} s"),
            ("machine while the alerts were sent", outcome.machine.describe()),
        ],
        broken(outcome),
    )


def run(size: str) -> Figures:
    return figures(measure(SIZES[size]))
