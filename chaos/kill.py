"""kill -9: in the middle of an alert storm both devhost processes (HTTP and background, the whole process group)
are killed with SIGKILL — no message settled, no lease let go — and the devhost is started again on the same
Azurite while the storm goes on; Azure Monitor retries what got no answer.

Invariant: every alert answered 202 is on an incident that paged, and so is every incident in the store (the page
outbox written with the incident, and the sweeper, finish what the killed processes left). Figures: alerts answered
202 before the kill, incidents, unpaged after the restart, time from the restart until all had paged.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from chaos import Figures, rig
from chaos.deliveries import storm
from chaos.readback import Paging, cards_per_key, paging, poison_messages
from chaos.sender import Answer, send
from devhost.azurite import Azurite
from devhost.process import DevhostProcess
from shared.notifications.ledger import CLAIM_HOLD
from shared.notifications.sweep import LEASE, PAGE_BOUND
from tests.standins.workflow_server import WorkflowServer

SEED = 9
DUPLICATES = 0.2
# Azure Monitor retries a delivery that got no answer; a pause of 1 s, 30 times, outlasts the restart.
RETRIES, PAUSE = 30, 1.0
# After the restart a page the killed processes left is started by the sweeper: PAGE_BOUND after it was due, once
# a killed delivery's claim on its first step and the killed instance's sweeper lease have run out, on a 10 s tick;
# with a margin.
SETTLE_SECONDS = max(PAGE_BOUND, CLAIM_HOLD, LEASE).total_seconds() + 10 + 15


@dataclass(frozen=True)
class Size:
    alerts: int
    groups: int
    spread_seconds: float  # deliveries fall anywhere in the run's first spread_seconds
    kill_after: float  # seconds into the storm


SIZES = {
    "full": Size(alerts=1000, groups=50, spread_seconds=20.0, kill_after=10.0),
    "fast": Size(alerts=150, groups=15, spread_seconds=4.0, kill_after=2.0),
}


@dataclass(frozen=True)
class Outcome:
    size: Size
    answers: list[Answer]
    killed: float  # time.monotonic() of the kill
    restarted: float  # … and of the devhost answering again
    all_paged: float | None  # … and of every incident having paged; None: not within the bound
    incidents: dict[str, Paging]
    cards: Counter[tuple[str, str, str]]
    poison: int

    @property
    def accepted(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.status == 202]

    @property
    def unpaged(self) -> list[str]:
        """Incidents named in a 202 answer, or in the store, that did not page."""
        named = {answer.incident for answer in self.accepted if answer.incident}
        return sorted(
            ident
            for ident in named | set(self.incidents)
            if ident not in self.incidents or not self.incidents[ident].paged
        )


def measure(size: Size, azurite: Azurite | None = None) -> Outcome:
    """The run, on `azurite` (its storage empty) or on an Azurite of its own."""
    deliveries = storm(size.alerts, size.groups, DUPLICATES, size.spread_seconds, SEED)
    with (
        tempfile.TemporaryDirectory(prefix="firebell-chaos-") as folder,
        rig.storage(azurite) as storage,
        WorkflowServer() as workflow,
    ):
        environment = rig.environment(rig.config_dir(Path(folder)), workflow.url)
        host = DevhostProcess(storage.connection_string, environment, own_group=True).start()
        try:
            answers: list[Answer] = []
            started = time.monotonic()
            url = f"{host.url}/api/alerts?code={rig.FUNCTION_KEY}"
            sender = threading.Thread(
                target=lambda: answers.extend(send(url, deliveries, retries=RETRIES, pause=PAUSE, started=started)),
                name="storm",
            )
            sender.start()
            time.sleep(max(0.0, started + size.kill_after - time.monotonic()))
            host.kill()
            killed = time.monotonic()
            host.start()
            restarted = time.monotonic()
            sender.join()
            all_paged = _until_all_paged(storage.connection_string, answers, SETTLE_SECONDS)
            time.sleep(1)  # a card delivered twice would arrive moments after the first
        finally:
            host.stop()
        return Outcome(
            size=size,
            answers=answers,
            killed=killed,
            restarted=restarted,
            all_paged=all_paged,
            incidents=paging(storage.connection_string),
            cards=cards_per_key(workflow.delivered()),
            poison=poison_messages(storage.connection_string),
        )


def _until_all_paged(connection_string: str, answers: list[Answer], bound: float) -> float | None:
    named = {answer.incident for answer in answers if answer.status == 202}
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        incidents = paging(connection_string)
        if named <= set(incidents) and all(found.paged for found in incidents.values()):
            return time.monotonic()
        time.sleep(0.5)
    return None


def broken(outcome: Outcome) -> list[str]:
    problems = []
    if outcome.unpaged:
        problems.append(f"{len(outcome.unpaged)} incidents unpaged after the restart ({outcome.unpaged[:5]})")
    if not any(answer.answered < outcome.killed for answer in outcome.accepted):
        problems.append("no alert was answered before the kill: the storm did not reach the kill")
    if outcome.poison:
        problems.append(f"{outcome.poison} poison messages")
    statuses = Counter(answer.status for answer in outcome.answers)
    if statuses[500]:
        problems.append(f"{statuses[500]} alerts answered 500")
    return problems


def figures(outcome: Outcome) -> Figures:
    size = outcome.size
    statuses = Counter(answer.status for answer in outcome.answers)
    others = {status: count for status, count in sorted(statuses.items()) if status != 202}
    before = [answer for answer in outcome.accepted if answer.answered < outcome.killed]
    repeated = sum(count - 1 for count in outcome.cards.values() if count > 1)
    settled = (
        f"{outcome.all_paged - outcome.restarted:.1f} s"
        if outcome.all_paged is not None
        else f"not within {SETTLE_SECONDS:.0f} s"
    )
    return Figures(
        f"kill -9 of the devhost mid-storm ({size.alerts} alerts over {size.groups} groups in "
        f"{size.spread_seconds:.0f} s, both processes SIGKILLed at {size.kill_after:.0f} s, restarted on the same "
        "Azurite)",
        [
            ("answered 202 before the kill", f"{len(before)} (naming {len({a.incident for a in before})} incidents)"),
            (
                "answered 202 in all",
                f"{len(outcome.accepted)} of {len(outcome.answers)} "
                f"({sum(answer.retried for answer in outcome.answers)} retries, most while the devhost was down)",
            ),
            ("answered non-202", f"{sum(others.values())}" + (f" by status {others} (0: no answer)" if others else "")),
            ("restart took", f"{outcome.restarted - outcome.killed:.1f} s (until /api/health answered)"),
            ("incidents", f"{len(outcome.incidents)} ({sum(f.swept for f in outcome.incidents.values())} swept)"),
            ("unpaged after the restart", str(len(outcome.unpaged))),
            ("restart → all paged", settled),
            (
                "cards repeated",
                f"{repeated} of {sum(outcome.cards.values())}"
                + (" (posted, then killed before the ledger write: the documented crash window)" if repeated else ""),
            ),
            ("poison messages", str(outcome.poison)),
        ],
        broken(outcome),
    )


def run(size: str) -> Figures:
    return figures(measure(SIZES[size]))
