"""Dependency outages, with time made fast: Teams Workflows failing for minutes while incidents open, Azure Boards
throttling a burst of incidents, and the Entra ID key endpoint down across a key-cache expiry while secure-webhook
alerts keep arriving. Each scenario runs Firebell's real flows over Azurite and real HTTP to the stand-ins, with the
simulated clock of chaos.simulated_host (the clock is a parameter of every flow), and returns what it saw; `run`
prints the figures. The fast versions in tests/integration/test_outages*.py assert the same invariants.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chaos.readback import card_key
from chaos.simulated_host import SimulatedHost
from devhost.azurite import ROOT
from devhost.hostjson import load_host_options
from functions.configuration import Configuration
from shared.azure_monitor.alert import parse_alert
from shared.chatops.grammar import parse_command
from shared.chatops.intake import handle
from shared.chatops.rules import Said
from shared.core.queues import ESCALATIONS, NOTIFICATIONS, QUEUES, WORKITEMS, poison
from shared.core.settings import Settings
from shared.core.storage import StorageAccount
from shared.incidents.alert_intake import receive_alert
from shared.incidents.changes import change_message
from shared.incidents.store import IncidentStore
from shared.incidents.timeline import (
    ESCALATION_PAGED,
    ESCALATION_SWEPT,
    NOTIFICATION_FAILED,
    WORK_ITEM_CREATED,
    WORK_ITEM_FAILED,
)
from shared.notifications import escalate, notify
from shared.notifications.ledger import EscalationLedger
from shared.notifications.notifier import Notifier
from shared.notifications.sweep import sweep
from shared.teams.workflow import RequestLimiter, WorkflowSender

# A Wednesday morning; every incident belongs to checkout, whose payments roster has Tim Jones on call.
START = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
SAMPLE = ROOT / "samples" / "azure-monitor" / "59_test_action_metric_static_threshold.json"
SERVICES = """
[default]
component = "Other services"

[[service]]
id = "checkout"
component = "Checkout"
roster = "payments"
resource_groups = ["test-RG"]
group_by = "rule"
"""
PEOPLE = """
[[person]]
name = "Tim Jones"
email = "tim.jones@example.com"

[[person]]
name = "Larry Brown"
email = "larry.brown@example.com"

[[person]]
name = "Priya Raman"
email = "priya.raman@example.com"
"""
ONCALL = """
[[roster]]
id = "payments"
name = "Payments"
  [[roster.layer]]
  name = "primary"
    [[roster.layer.rotation]]
    name = "all week"
    kind = "weekly"
    members = ["Tim Jones"]
    handoff_weekday = "monday"
    handoff_time = "09:00"
    start = 2026-01-05
"""
# The primary, then (unacknowledged five minutes later) a named person.
ESCALATION_POLICY = """
[policy.outage]
steps = [{ roster_layer = "primary", wait_minutes = 5 }, { person = "Priya Raman" }]

[default]
policy = "outage"
"""
# Patient in-process retries would sleep in real time: any Retry-After of a second or more goes to the queue instead.
BOARDS = """
[http]
timeout_seconds = 3
attempts = 3
first_backoff_seconds = 0.05
max_backoff_seconds = 0.5
"""
CONFIG_FILES = {
    "boards.toml": BOARDS,
    "services.toml": SERVICES,
    "people.toml": PEOPLE,
    "oncall.toml": ONCALL,
    "escalations.toml": ESCALATION_POLICY,
}
FIRST_PAGE = "payments primary, step 1 of 2"
SECOND_PAGE = "named contact, step 2 of 2"
EXPECTED_PAGES = [f"paged Tim Jones ({FIRST_PAGE})", f"paged Priya Raman ({SECOND_PAGE})"]
SERVER_ERRORS = (503, 500, 502, 504)  # the outage answers one of these per minute, in turn


def write_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in CONFIG_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def alert(number: int, alert_id: str = "") -> bytes:
    """Azure Monitor's metric alert, one rule per incident."""
    document = json.loads(SAMPLE.read_text(encoding="utf-8"))
    document["data"]["essentials"].update(
        alertId=alert_id or f"outage-{number}",
        alertRule=f"checkout-latency-{number}",
        severity="Sev1",
        firedDateTime="2026-12-02T09:59:00Z",
    )
    return json.dumps(document).encode()


# --- 1. Teams Workflows down while incidents open ---------------------------------------------------------------------


@dataclass
class WorkflowsOutage:
    """What one Workflows outage run saw. Times are simulated."""

    minutes: float
    incidents: int
    expected_cards: int
    cards: Counter[tuple[str, str, str]]  # (incident, card kind, who/what) → how many arrived
    card_times: dict[tuple[str, str, str], datetime]  # first arrival of each card
    outage_end: datetime
    requests: int
    failed_requests: int
    timeouts: int  # requests the stand-in held past the sender's read timeout
    first_page_deliveries: list[int]  # notifications deliveries of each opening message until its page went out
    poison: int
    failed_notes: dict[str, list[str]]  # incident → its "notification failed: …" texts
    paged_notes: dict[str, list[str]]  # incident → its escalation.paged texts
    swept: int  # pages the sweeper had to start
    health_poison: int | None = None  # /api/health/details' poison_messages after the run

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.cards.values() if count > 1)

    def last_after_end(self, kind: str, what: str | None = None) -> timedelta | None:
        times = [at for key, at in self.card_times.items() if key[1] == kind and (what is None or key[2] == what)]
        return max(times) - self.outage_end if times else None


def workflows_outage(
    connection_string: str,
    config_dir: Path,
    workflow: Any,
    *,
    incidents: int = 20,
    outage: timedelta = timedelta(minutes=30),
    timeout_window: timedelta = timedelta(0),
    read_timeout: float = 0.25,
    sweeper_every: timedelta = timedelta(seconds=10),
) -> WorkflowsOutage:
    """`incidents` open at START while Workflows (tests.standins.workflow_server.WorkflowServer) fails for `outage`;
    20 s in, each gets a commander (a role card). Workflows answers a 5xx (another each minute); during the first
    `timeout_window` it holds each answer past the sender's read timeout instead. The notifications and escalations
    queues and the sweeper (every 10 s, as deployed; the fast tests tick it less often) run until nothing is due."""
    options = load_host_options(ROOT / "host.json").queues
    host = SimulatedHost(connection_string, START, options)
    config = Configuration(config_dir)
    settings = Settings(config_dir, "Acme Status", "https://status.example.com/", teams_workflow_url=workflow.url)
    # Throttling is beside the point here (and measured in real time): the limiter lets everything through.
    sender = WorkflowSender(
        RequestLimiter(max_requests=1_000_000), backoff_seconds=0.0, sleep=lambda _: None, timeout=(3.05, read_timeout)
    )
    store = IncidentStore(host.account)
    notifier = Notifier(store, EscalationLedger(host.account), sender, host.account, settings, config)
    card_times: dict[tuple[str, str, str], datetime] = {}
    seen = [0]

    def timed(act: Callable[..., Any]) -> Callable[..., Any]:
        """Run `act`, then stamp the cards that arrived meanwhile with the simulated time."""

        def run(*args: Any) -> Any:
            try:
                return act(*args)
            finally:
                arrived = workflow.requests()
                for received in arrived[seen[0] :]:
                    if 200 <= received.status < 300:
                        card_times.setdefault(card_key(received.card), host.now)
                seen[0] = len(arrived)

        return run

    host.listen(
        NOTIFICATIONS, timed(lambda body, ident, count, now: notify.on_change(body, ident, count, now, notifier))
    )
    host.listen(ESCALATIONS, timed(lambda body, ident, count, now: escalate.on_step(body, ident, count, now, notifier)))
    host.every(sweeper_every, timed(lambda now: sweep(now, notifier, "instance-a")))

    # The outage: a different 5xx each minute, its answers held past the read timeout during `timeout_window`.
    def answer(at: timedelta) -> Callable[[], None]:
        status = SERVER_ERRORS[int(at / timedelta(minutes=1)) % len(SERVER_ERRORS)]
        hang = 2 * read_timeout if at < timeout_window else 0.0
        return lambda: workflow.down(status, hang=hang)

    changes = {timedelta(minutes=minute) for minute in range(math.ceil(outage / timedelta(minutes=1)))}
    for at in sorted(changes | ({timeout_window} if timedelta(0) < timeout_window < outage else set())):
        host.at(START + at, answer(at))
    outage_end = START + outage
    host.at(outage_end, workflow.up)

    opening: dict[str, str] = {}  # incident → its opening message's id, once known
    for number in range(1, incidents + 1):
        intake = receive_alert(parse_alert(alert(number)), config.catalog(), store, START)
        assert intake.incident_id is not None and intake.outcome == "opened", intake
        body = change_message(intake.incident_id, intake.event_ids, ["alert.fired"])
        opening[intake.incident_id] = host.send(NOTIFICATIONS, body)

    def commanders() -> None:
        for ident in opening:
            at = START + timedelta(seconds=20)
            text = f"role {ident} commander Larry Brown"
            decision = handle(
                parse_command(text), Said(text, "Tim Jones", at, f"role-{ident}"), store, config.catalog(), ""
            )
            events = [event.event_id for event in decision.events]
            host.send(NOTIFICATIONS, change_message(ident, events, [event.kind for event in decision.events]))

    host.at(START + timedelta(seconds=20), commanders)
    host.run(until=outage_end, limit=outage_end + timedelta(hours=3))

    if host.pending:
        raise AssertionError(f"{host.pending} messages still due {host.now - START} after the start")
    requests = workflow.requests()
    cards = Counter(card_key(r.card) for r in requests if 200 <= r.status < 300)
    deliveries = [
        sum(1 for d in host.deliveries if d.queue == NOTIFICATIONS and _holder(d) == message_id)
        for message_id in opening.values()
    ]
    timelines = {ident: store.timeline(ident) for ident in opening}
    return WorkflowsOutage(
        minutes=outage.total_seconds() / 60,
        incidents=incidents,
        expected_cards=3 * incidents,
        cards=cards,
        card_times=card_times,
        outage_end=outage_end,
        requests=len(requests),
        failed_requests=sum(1 for r in requests if r.status >= 300),
        timeouts=sum(1 for r in requests if r.hung),
        first_page_deliveries=deliveries,
        poison=sum(host.account.message_count(poison(queue)) for queue in QUEUES),
        failed_notes={i: [e.text for e in t if e.kind == NOTIFICATION_FAILED] for i, t in timelines.items()},
        paged_notes={i: [e.text for e in t if e.kind == ESCALATION_PAGED] for i, t in timelines.items()},
        swept=sum(1 for t in timelines.values() for e in t if e.kind == ESCALATION_SWEPT),
    )


def _holder(delivery: Any) -> str:
    held = json.loads(delivery.body).get("holder")
    return held if isinstance(held, str) and held else delivery.message_id


# --- 2. Azure Boards throttling a burst of incidents ------------------------------------------------------------------


@dataclass
class BoardsStorm:
    """What one Boards 429 storm run saw. Times are simulated."""

    incidents: int
    storm: timedelta  # every request throttled
    tail: timedelta  # then a share of them
    requests: int
    throttled: int
    items: Counter[str]  # incident → work items in Boards carrying its tag
    recorded: dict[str, int | None]  # incident → the work item id on the incident
    created_notes: dict[str, int]  # incident → its workitem.created events
    failed_notes: dict[str, list[str]]  # incident → its workitem.failed texts
    storm_end: datetime  # when the last 429 could be answered
    first_created: datetime | None
    last_created: datetime | None
    deliveries: int
    poison: int

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.items.values() if count > 1)


def boards_storm(
    connection_string: str,
    config_dir: Path,
    boards: Any,
    *,
    incidents: int = 20,
    storm: timedelta = timedelta(minutes=10),
    retry_after: int = 60,
    tail: timedelta = timedelta(minutes=10),
    tail_fraction: float = 0.3,
    tail_retry_after: int = 5,
) -> BoardsStorm:
    """`incidents` open at START, each announced twice on `workitems` (at-least-once delivery), while Azure DevOps
    (tests.standins.boards_server.BoardsServer) answers every request 429 with Retry-After `retry_after` for
    `storm`, then a `tail_fraction` of them for `tail`. The workitems queue runs until nothing is due."""
    from shared.workitems import sync  # the Boards SDK loads with it

    options = load_host_options(ROOT / "host.json").queues
    host = SimulatedHost(connection_string, START, options)
    config = Configuration(config_dir)
    settings = Settings(
        config_dir,
        "Acme Status",
        "https://status.example.com/",
        azure_devops_org_url=boards.org_url,
        azure_devops_project=boards.project,
        azure_devops_pat=boards.pat,
    )
    store = IncidentStore(host.account)

    def carry_over(body: bytes, ident: str, count: int, now: datetime) -> Any:
        return sync.on_change(
            body, ident, count, now, store=store, settings=settings, config=config, account=host.account
        )

    host.listen(WORKITEMS, carry_over)
    boards.throttle(str(retry_after))
    host.at(START + storm, lambda: boards.throttle(str(tail_retry_after), tail_fraction))
    storm_end = START + storm + tail
    host.at(storm_end, boards.calm)
    opened = []
    for number in range(1, incidents + 1):
        intake = receive_alert(parse_alert(alert(number)), config.catalog(), store, START)
        assert intake.incident_id is not None and intake.outcome == "opened", intake
        opened.append(intake.incident_id)
        body = change_message(intake.incident_id, intake.event_ids, ["alert.fired"])
        host.send(WORKITEMS, body)
        host.send(WORKITEMS, body)  # delivered twice: the queue promises at least once
    host.run(until=storm_end, limit=storm_end + timedelta(hours=3))
    if host.pending:
        raise AssertionError(f"{host.pending} messages still due {host.now - START} after the start")

    answered = boards.requests()
    tags = {ident: f"firebell-{ident}-incident" for ident in opened}
    items = Counter(ident for item in boards.work_items() for ident, tag in tags.items() if tag in item.tags)
    timelines = {ident: store.timeline(ident) for ident in opened}
    created = [e.at for t in timelines.values() for e in t if e.kind == WORK_ITEM_CREATED]
    return BoardsStorm(
        incidents=incidents,
        storm=storm,
        tail=tail,
        requests=len(answered),
        throttled=sum(1 for r in answered if r.status == 429),
        items=items,
        recorded={ident: (store.get_incident(ident) or _missing(ident)).work_item_id for ident in opened},
        created_notes={i: sum(1 for e in t if e.kind == WORK_ITEM_CREATED) for i, t in timelines.items()},
        failed_notes={i: [e.text for e in t if e.kind == WORK_ITEM_FAILED] for i, t in timelines.items()},
        storm_end=storm_end,
        first_created=min(created) if created else None,
        last_created=max(created) if created else None,
        deliveries=sum(1 for d in host.deliveries if d.queue == WORKITEMS),
        poison=sum(host.account.message_count(poison(queue)) for queue in QUEUES),
    )


def _missing(ident: str) -> Any:
    raise AssertionError(f"{ident} vanished")


# --- 3. The Entra ID key endpoint down across a key-cache expiry -----------------------------------------------------

TENANT = "3f6b1c2e-8d4a-4e5b-9c7d-1a2b3c4d5e6f"
AUDIENCE = "api://firebell-alerts"
ACTION_GROUPS_APP = "461e8683-5575-4561-ac7f-899cc907d62a"  # the app Azure Monitor's action groups sign in as
PHASES = ("before", "down", "down, cache expired", "back")
AZURE_MONITOR_RETRIES = 5  # an action group retries a 503 up to five times


@dataclass
class KeyOutage:
    """What one key-endpoint outage run saw. Times are simulated."""

    alerts: int  # requests answered, Azure Monitor's retries included
    answers: Counter[tuple[str, str, int]]  # (phase, token kind, HTTP status) → count
    retried_until_accepted: int  # genuine alerts that were answered 503 first and accepted on a retry
    lost: Counter[str]  # token kind → genuine alerts still refused after Azure Monitor's last retry
    rotated_first_accepted: datetime | None  # a token signed with the key Entra rotated to, first accepted
    back_at: datetime
    key_requests: int
    slowest_answer: float  # real seconds: the longest any verification waited (one fetch timeout at most)

    def count(self, status: int, *, phase: str | None = None, kind: str | None = None) -> int:
        return sum(
            n
            for (p, k, code), n in self.answers.items()
            if code == status and (phase is None or p == phase) and (kind is None or k == kind)
        )


class SimulatedMonotonic:
    """The signing-key cache's monotonic clock, moved with the simulated one."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def key_outage(
    connection_string: str,
    config_dir: Path,
    *,
    every: timedelta = timedelta(seconds=30),
    batch: int = 4,
    down_at: timedelta = timedelta(minutes=30),
    hang: tuple[timedelta, timedelta] = (timedelta(minutes=40), timedelta(minutes=45)),
    rotated_at: timedelta = timedelta(minutes=75),
    back_at: timedelta = timedelta(minutes=90),
    end: timedelta = timedelta(minutes=120),
    fetch_timeout: float = 0.3,
) -> KeyOutage:
    """Secure-webhook alerts arrive every `every` (`batch` at once, on threads) through the alerts function's own
    steps — the bearer token verified against the tenant's keys (shared.azure_monitor.signing_keys with a simulated
    clock), the alert taken in (Azurite), errors answered as the HTTP edge maps them. The key endpoint (a real
    socket) answers 500 from `down_at` (holding its answers past the fetch timeout during `hang`) until `back_at`;
    the cached key set expires at 60 min, in the middle. From `rotated_at` Entra ID signs with a new key it publishes
    only once the endpoint is back. After it is back, a forged token spends the unknown-kid refetch and the tenant
    rotates again at once: that key's tokens arrive inside the refetch window. A 503 is retried at the next tick, up to
    AZURE_MONITOR_RETRIES times, as Azure Monitor retries; a 401 is not. A token signed with a key nobody could fetch
    yet can only be answered 503: with the endpoint down longer than Azure Monitor's retries last, it is lost."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    from functions.http_edge import error_response
    from shared.azure_monitor.secure_webhook import SecureWebhookPolicy, verify_bearer
    from shared.azure_monitor.signing_keys import SigningKeys
    from shared.core.errors import FirebellError
    from tests.standins.entra_keys import KeyServer, jwk

    keys = {name: rsa.generate_private_key(public_exponent=65537, key_size=2048) for name in ("k1", "k2", "k3", "x")}
    server = KeyServer([jwk(keys["k1"], "k1")], f"/{TENANT}/discovery/v2.0/keys")
    clock = SimulatedMonotonic()
    signing = SigningKeys(server.url, timeout_seconds=fetch_timeout, clock=clock)
    policy = SecureWebhookPolicy(TENANT, AUDIENCE, server.url)
    config = Configuration(config_dir)
    store = IncidentStore(StorageAccount(connection_string))

    def token(kid: str, now: datetime) -> str:
        issued = int((now - timedelta(minutes=5)).timestamp())
        claims = {
            "aud": AUDIENCE,
            "iss": f"https://sts.windows.net/{TENANT}/",
            "iat": issued,
            "nbf": issued,
            "exp": issued + 3600,
            "appid": ACTION_GROUPS_APP,
            "oid": "5b1c7f0e-2d3a-4c4b-9e8f-7a6b5c4d3e2f",
            "sub": "5b1c7f0e-2d3a-4c4b-9e8f-7a6b5c4d3e2f",
            "roles": ["ActionGroupsSecureWebhook"],
            "tid": TENANT,
            "ver": "1.0",
        }
        return jwt.encode(claims, keys[kid], algorithm="RS256", headers={"kid": kid})

    def receive(kid: str, number: int, now: datetime) -> tuple[int, float]:
        """The alerts function's answer to one delivery, and how long (real seconds) it took."""
        started = time.monotonic()
        try:
            verify_bearer(f"Bearer {token(kid, now)}", policy, signing.key_for, now)
            receive_alert(parse_alert(alert(number % batch + 1, f"entra-{number}")), config.catalog(), store, now)
            status = 202
        except FirebellError as error:
            status = error_response(error).status_code
        return status, time.monotonic() - started

    answers: Counter[tuple[str, str, int]] = Counter()
    waiting: list[tuple[str, int, int]] = []  # (kid, alert number, retry) to deliver at the next tick
    lost: Counter[str] = Counter()
    retried = number = 0
    slowest = 0.0
    rotated_first: datetime | None = None
    forged = down = held = back = False
    t = timedelta(0)
    try:
        with ThreadPoolExecutor(max_workers=batch) as pool:
            while t <= end:
                now = START + t
                clock.seconds = 1000.0 + t.total_seconds()
                phase = _phase(t, down_at, back_at)
                if t >= down_at and not down:
                    down, server.status = True, 500
                if hang[0] <= t < hang[1] and not held:
                    held = True
                    server.hold()
                if t >= hang[1] and held:
                    held = False
                    server.release()
                if t >= back_at and not back:
                    back, server.status = True, 200
                    server.keys = [jwk(keys["k1"], "k1"), jwk(keys["k2"], "k2")]
                kid = "k2" if t >= rotated_at else "k1"
                if t >= back_at + timedelta(minutes=10) and not forged:
                    forged = True  # a forged kid spends the refetch; then the tenant rotates to k3 at once
                    status, _ = receive("x", 0, now)
                    answers[(phase, "forged", status)] += 1
                    server.keys = [jwk(keys["k2"], "k2"), jwk(keys["k3"], "k3")]
                if forged:
                    kid = "k3"
                deliveries = waiting + [(kid, (number := number + 1), 0) for _ in range(batch)]
                waiting = []
                outcomes = list(pool.map(lambda d, now=now: receive(d[0], d[1], now), deliveries))
                for (used, ident, again), (status, seconds) in zip(deliveries, outcomes, strict=True):
                    slowest = max(slowest, seconds)
                    answers[(phase, "retry" if again else used, status)] += 1
                    if status == 503 and again < AZURE_MONITOR_RETRIES:
                        waiting.append((used, ident, again + 1))
                    elif status == 202 and again:
                        retried += 1
                    elif status != 202 and used != "x":
                        lost[used] += 1
                    if status == 202 and used in ("k2", "k3") and t >= back_at and rotated_first is None:
                        rotated_first = now
                t += every
    finally:
        server.stop()
    lost.update(used for used, _, _ in waiting)
    return KeyOutage(
        alerts=sum(answers.values()),
        answers=answers,
        retried_until_accepted=retried,
        lost=lost,
        rotated_first_accepted=rotated_first,
        back_at=START + back_at,
        key_requests=server.requests,
        slowest_answer=slowest,
    )


def _phase(t: timedelta, down_at: timedelta, back_at: timedelta) -> str:
    if t < down_at:
        return PHASES[0]
    if t < back_at:
        return PHASES[1] if t < timedelta(minutes=60) else PHASES[2]
    return PHASES[3]


# --- invariants -------------------------------------------------------------------------------------------------------


def workflows_broken(seen: WorkflowsOutage) -> list[str]:
    """An outage within the bound: every card once, none before the outage ended, no failure, no poison, and the
    sweeper left the pages the deferred messages held alone."""
    problems = []
    if len(seen.cards) != seen.expected_cards:
        problems.append(f"{len(seen.cards)} of {seen.expected_cards} cards delivered")
    if seen.duplicates:
        problems.append(f"{seen.duplicates} cards delivered more than once")
    if seen.card_times and min(seen.card_times.values()) < seen.outage_end:
        problems.append("a card arrived during the outage")
    if seen.poison:
        problems.append(f"{seen.poison} messages poisoned")
    failed = sum(len(notes) for notes in seen.failed_notes.values())
    if failed:
        problems.append(f"{failed} 'notification failed' notes on the timelines")
    if seen.swept:
        problems.append(f"the sweeper started {seen.swept} pages a deferred message held")
    wrong = [ident for ident, notes in seen.paged_notes.items() if notes != EXPECTED_PAGES]
    if wrong:
        problems.append(
            f"{len(wrong)} timelines do not record both pages once ({wrong[0]}: {seen.paged_notes[wrong[0]]})"
        )
    return problems


def past_bound_broken(seen: WorkflowsOutage) -> list[str]:
    """An outage longer than the bound: each held card (first page, role card) fails once on its timeline and goes
    to poison, which /api/health/details counts; escalation goes on, and its next step pages once Workflows is back."""
    problems = []
    wrong = [ident for ident, notes in seen.failed_notes.items() if len(notes) != 2]
    if wrong:
        problems.append(f"{len(wrong)} timelines without exactly two 'notification failed' notes")
    if seen.poison != 2 * seen.incidents or seen.health_poison != seen.poison:
        problems.append(
            f"poison {seen.poison}, /api/health/details says {seen.health_poison}; expected {2 * seen.incidents}"
        )
    second = {ident: [f"paged Priya Raman ({SECOND_PAGE})"] for ident in seen.paged_notes}
    if seen.paged_notes != second or seen.duplicates:
        problems.append("the second step did not page exactly once per incident after the outage")
    return problems


def boards_broken(seen: BoardsStorm) -> list[str]:
    problems = []
    missing = [ident for ident, item in seen.recorded.items() if item is None or seen.items[ident] == 0]
    if missing:
        problems.append(f"{len(missing)} incidents without a work item")
    if seen.duplicates:
        problems.append(f"{seen.duplicates} duplicate work items")
    if any(count != 1 for count in seen.created_notes.values()):
        problems.append("a timeline without exactly one workitem.created")
    if any(seen.failed_notes.values()) or seen.poison:
        problems.append("a work item failed or a message was poisoned")
    return problems


def key_outage_broken(seen: KeyOutage) -> list[str]:
    problems = []
    held_key_503 = sum(seen.count(503, phase=phase, kind="k1") for phase in PHASES[1:])
    if held_key_503:
        problems.append(f"{held_key_503} alerts signed with a key of the last good set answered 503")
    genuine_401 = sum(n for (_, kind, status), n in seen.answers.items() if status == 401 and kind != "forged")
    if genuine_401:
        problems.append(f"{genuine_401} genuine alerts refused with 401")
    # Signed with a key of the last good set, or with one published in time: every alert accepted, at worst on a
    # retry. (A token signed with a key nobody could fetch during the outage is the one that can be lost.)
    lost = seen.lost["k1"] + seen.lost["k3"]
    if lost:
        problems.append(f"{lost} alerts signed with a key Firebell could know were never accepted")
    if seen.rotated_first_accepted is None:
        problems.append("the rotated key was never picked up")
    return problems


# --- make chaos -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    incidents: int
    outages: tuple[int, ...]  # minutes of each Workflows outage within the bound
    timeout_window: timedelta  # the first part of each outage, timeouts rather than 5xx
    past_bound: int  # minutes of the outage longer than the bound
    boards_incidents: int
    alert_every: timedelta  # secure-webhook alerts, a batch of four each time


SIZES = {
    "full": Size(20, (1, 5, 30), timedelta(seconds=15), 60, 20, timedelta(seconds=30)),
    "fast": Size(4, (1, 5), timedelta(seconds=5), 60, 5, timedelta(minutes=5)),
}


def run(size: str) -> Any:
    """Every scenario on its own Azurite and stand-ins; the figures, and the invariants that did not hold."""
    import os
    import tempfile

    from chaos import Figures
    from devhost.azurite import Azurite
    from tests.standins.boards_server import BoardsServer
    from tests.standins.workflow_server import WorkflowServer

    chosen = SIZES[size]
    rows: list[tuple[str, str]] = []
    broken: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("AZURE_DEVOPS_CACHE_DIR", str(Path(folder) / "azure-devops"))  # before the SDK loads
        config_dir = write_config(Path(folder) / "config")
        for minutes in chosen.outages:
            with Azurite() as storage, WorkflowServer() as workflow:
                seen = workflows_outage(
                    storage.connection_string,
                    config_dir,
                    workflow,
                    incidents=chosen.incidents,
                    outage=timedelta(minutes=minutes),
                    timeout_window=chosen.timeout_window,
                )
            rows += workflows_rows(seen)
            broken += [f"Workflows {minutes} min: {problem}" for problem in workflows_broken(seen)]
        with Azurite() as storage, WorkflowServer() as workflow:
            seen = workflows_outage(
                storage.connection_string,
                config_dir,
                workflow,
                incidents=chosen.incidents,
                outage=timedelta(minutes=chosen.past_bound),
            )
            seen.health_poison = health_poison(storage.connection_string)
        rows += past_bound_rows(seen)
        broken += [f"Workflows {chosen.past_bound} min: {problem}" for problem in past_bound_broken(seen)]
        with Azurite() as storage, BoardsServer() as boards:
            storm = boards_storm(storage.connection_string, config_dir, boards, incidents=chosen.boards_incidents)
        rows += boards_rows(storm)
        broken += [f"Boards: {problem}" for problem in boards_broken(storm)]
        with Azurite() as storage:
            keys = key_outage(storage.connection_string, config_dir, every=chosen.alert_every)
        rows += key_rows(keys)
        broken += [f"Entra keys: {problem}" for problem in key_outage_broken(keys)]
    title = (
        f"Dependency outages, time made fast ({size}: Workflows, Boards and Entra ID stand-ins, Azurite, simulated "
        "clock; simulated times unless marked real)"
    )
    return Figures(title, rows, broken)


def health_poison(connection_string: str) -> int | None:
    """What GET /api/health/details says of the poison queues, asked of the function itself."""
    import os

    from azure.functions import HttpRequest

    from functions import context
    from functions.health import health_details

    saved = os.environ.get("AzureWebJobsStorage")
    os.environ["AzureWebJobsStorage"] = connection_string
    context.reset()
    try:
        answer = health_details(HttpRequest("GET", "/api/health/details", body=b""))
        return json.loads(answer.get_body())["poison_messages"]
    finally:
        if saved is None:
            os.environ.pop("AzureWebJobsStorage", None)
        else:
            os.environ["AzureWebJobsStorage"] = saved
        context.reset()


def _seconds(delta: timedelta | None) -> str:
    return "—" if delta is None else f"{delta.total_seconds():.0f} s"


def workflows_rows(seen: WorkflowsOutage) -> list[tuple[str, str]]:
    name = f"Workflows down {seen.minutes:.0f} min, {seen.incidents} incidents:"
    deliveries = seen.first_page_deliveries
    return [
        (f"{name} cards delivered", f"{len(seen.cards)} of {seen.expected_cards}, {seen.duplicates} duplicates"),
        (
            f"{name} queue deliveries per first page",
            f"median {statistics.median(deliveries):.0f}, max {max(deliveries)}",
        ),
        (
            f"{name} Workflows requests",
            f"{seen.requests} ({seen.failed_requests} failed, {seen.timeouts} timed out)",
        ),
        (f"{name} outage end → last first page", _seconds(seen.last_after_end("Paging", FIRST_PAGE))),
        (f"{name} outage end → last role card", _seconds(seen.last_after_end("Role"))),
        (
            f"{name} poison, failure notes, sweeper starts",
            f"{seen.poison}, {sum(map(len, seen.failed_notes.values()))}, {seen.swept}",
        ),
    ]


def past_bound_rows(seen: WorkflowsOutage) -> list[tuple[str, str]]:
    name = f"Workflows down {seen.minutes:.0f} min (bound 45), {seen.incidents} incidents:"
    notes = sum(map(len, seen.failed_notes.values()))
    second = sum(count for (_, kind, what), count in seen.cards.items() if kind == "Paging" and what == SECOND_PAGE)
    return [
        (f"{name} 'notification failed' notes", f"{notes} ({notes / seen.incidents:.0f} per incident)"),
        (f"{name} poison (queues, /api/health/details)", f"{seen.poison}, {seen.health_poison}"),
        (f"{name} second step paged after the outage", f"{second} of {seen.incidents}"),
    ]


def boards_rows(seen: BoardsStorm) -> list[tuple[str, str]]:
    name = (
        f"Boards 429 storm ({seen.storm.total_seconds() / 60:.0f} min all, {seen.tail.total_seconds() / 60:.0f} min "
        f"30 %), {seen.incidents} incidents × 2 messages:"
    )
    after = seen.storm_end - seen.tail
    return [
        (f"{name} requests, 429s", f"{seen.requests}, {seen.throttled}"),
        (f"{name} items created, duplicates", f"{sum(seen.items.values())}, {seen.duplicates}"),
        (f"{name} queue deliveries", str(seen.deliveries)),
        (
            f"{name} storm end → first, last item",
            f"{_seconds(seen.first_created - after if seen.first_created else None)}, "
            f"{_seconds(seen.last_created - after if seen.last_created else None)}",
        ),
        (f"{name} poison, failure notes", f"{seen.poison}, {sum(map(len, seen.failed_notes.values()))}"),
    ]


def key_rows(seen: KeyOutage) -> list[tuple[str, str]]:
    name = "Entra keys down 30→90 min (cache expiry at 60):"
    held = sum(seen.count(status, kind="k1") for status in (202, 503))
    rotated_503 = seen.count(503, kind="k2") + seen.count(503, kind="k3")
    genuine_401 = sum(n for (_, kind, status), n in seen.answers.items() if status == 401 and kind != "forged")
    return [
        (f"{name} alert deliveries (retries included)", str(seen.alerts)),
        (f"{name} 503s signed with a held key", f"{seen.count(503, kind='k1')} of {held}"),
        (f"{name} 401s for genuine tokens", str(genuine_401)),
        (f"{name} rotated key: 503, then accepted on a retry", f"{rotated_503}, {seen.retried_until_accepted}"),
        (
            f"{name} lost after {AZURE_MONITOR_RETRIES} retries: held key, key rotated to while down, in window",
            f"{seen.lost['k1']}, {seen.lost['k2']}, {seen.lost['k3']}",
        ),
        (
            f"{name} endpoint back → rotated key accepted",
            _seconds(seen.rotated_first_accepted - seen.back_at if seen.rotated_first_accepted else None),
        ),
        (f"{name} key endpoint requests", str(seen.key_requests)),
        (f"{name} slowest answer (real)", f"{seen.slowest_answer * 1000:.0f} ms"),
    ]
