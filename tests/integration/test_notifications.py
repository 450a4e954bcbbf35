"""Notification cards reach the Teams channel through a local Workflows stand-in, over real HTTP and Azurite.

The sender honours 429 Retry-After (checked on the stand-in's arrival times), retries 5xx with backoff, gives up on
refusals at once and shares one rate limiter across threads; the notifications function posts each card once per
event however often its message arrives, says on the timeline when cards cannot be sent, and starts escalation when
an incident opens.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from functions import context
from shared.azure_monitor.alert import parse_alert
from shared.chatops.grammar import parse_command
from shared.chatops.intake import handle
from shared.chatops.rules import Said
from shared.core import telemetry
from shared.core.http_client import retry_after_seconds
from shared.incidents.alert_intake import receive_alert
from shared.incidents.changes import ChangeMessage
from shared.incidents.store import IncidentStore
from shared.incidents.timeline import PAGE_REQUESTED, TimelineEvent, event_id
from shared.notifications.cards import Recipient, encode, paged_card
from shared.notifications.ledger import EscalationLedger
from shared.notifications.notifier import Notifier, channel_url
from shared.notifications.notify import notify
from shared.notifications.policy import FIRST, StepMessage
from shared.teams.workflow import (
    RequestLimiter,
    WorkflowRejected,
    WorkflowSender,
    WorkflowUnavailable,
)
from tests.conftest import ROOT, pause_of, redeliver, sample_json, write_config
from tests.standins.workflow_server import WorkflowServer
from tests.unit.statuspage.ids import pid

# A Wednesday: the test schedule's secondary layer covers Mondays only, so now it has a gap.
WEDNESDAY = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
STATUS_PAGE = "https://status.example.com/"
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
  [[roster.layer]]
  name = "secondary"
    [[roster.layer.rotation]]
    name = "mondays"
    kind = "weekly"
    members = ["Larry Brown"]
    handoff_weekday = "monday"
    handoff_time = "09:00"
    start = 2026-01-05
    windows = ["mon 00:00 - tue 00:00"]

[[roster]]
id = "platform"
name = "Platform"
  [[roster.layer]]
  name = "primary"
    [[roster.layer.rotation]]
    name = "all week"
    kind = "weekly"
    members = ["Aiko Tanaka"]
    handoff_weekday = "monday"
    handoff_time = "09:00"
    start = 2026-01-05
"""
# Waits are tiny so tests stay quick; a queue's visibility delay is whole seconds (1.5 s → 2 s).
ESCALATIONS = """
[policy.quick]
rounds = 2
steps = [
  { roster_layer = "primary", wait_minutes = 0.025 },
  { roster_layer = "secondary" },
  { person = "Priya Raman" },
]

[policy.once]
steps = [{ roster_layer = "primary" }]

[[route]]
severities = [4]
policy = "once"

[default]
policy = "quick"
"""


SERVICES = """
[default]
component = "Other services"
roster = "platform"

[[service]]
id = "checkout"
component = "Checkout"
roster = "payments"
runbook_url = "https://runbooks.example.com/checkout"
resource_groups = ["test-RG"]
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

[[person]]
name = "Aiko Tanaka"
email = "aiko.tanaka@example.com"
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A catalog, people and schedule whose answers the tests know, and escalation waits of a second or two."""
    folder = write_config(
        tmp_path,
        {"services.toml": SERVICES, "people.toml": PEOPLE, "oncall.toml": ONCALL, "escalations.toml": ESCALATIONS},
    )
    return folder


@pytest.fixture
def workflow() -> Iterator[WorkflowServer]:
    with WorkflowServer() as server:
        yield server


@pytest.fixture
def notifying(storage_account, workflow, config_dir, monkeypatch) -> IncidentStore:
    """Storage, the Workflows stand-in as TEAMS_WORKFLOW_URL and the test configuration."""
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("TEAMS_WORKFLOW_URL", workflow.url)
    monkeypatch.setenv("STATUS_PAGE_URL", STATUS_PAGE)
    context.reset()
    return IncidentStore(storage_account)


def fast_sender() -> WorkflowSender:
    return WorkflowSender(RequestLimiter(), attempts=3, backoff_seconds=0.01)


def notifier() -> Notifier:
    return context.notifier(fast_sender())


def alert(alert_id: str = "alert-1", severity: str = "Sev1") -> bytes:
    document = sample_json("59_test_action_metric_static_threshold.json")
    document["data"]["essentials"].update(
        alertId=alert_id, severity=severity, alertRule="checkout-latency", firedDateTime="2026-12-02T09:58:00Z"
    )
    return json.dumps(document).encode()


def open_incident(store: IncidentStore, severity: str = "Sev1") -> tuple[str, tuple[str, ...]]:
    intake = receive_alert(parse_alert(alert(severity=severity)), context.catalog(), store, WEDNESDAY)
    assert intake.incident_id == "INC-1"
    return intake.incident_id, intake.event_ids


def say(store: IncidentStore, text: str, who: str = "Tim Jones", minute: int = 1) -> tuple[str, ...]:
    """A Teams command through the real ChatOps path; returns the event ids it wrote (as teams.py announces them)."""
    at = WEDNESDAY + timedelta(minutes=minute)
    decision = handle(parse_command(text), Said(text, who, at, f"msg-{minute}"), store, context.catalog(), "")
    return tuple(event.event_id for event in decision.events)


def escalation_messages(storage_account) -> list[StepMessage]:
    queue = storage_account.queue("escalations")
    return [StepMessage.from_json(json.loads(m.content)) for m in queue.receive_messages(max_messages=32)]


def facts(card: dict) -> dict[str, str]:
    factset = next(item for item in card["body"] if item["type"] == "FactSet")
    return {fact["title"]: fact["value"] for fact in factset["facts"]}


def headline(card: dict) -> str:
    return card["body"][1]["text"]


# --- the sender -------------------------------------------------------------------------------------------------------


def test_a_429_is_retried_after_its_retry_after_and_the_card_then_arrives(workflow, metrics):
    workflow.fail_next(429, retry_after="1")
    body = encode(paged_card_message())
    fast_sender().post(workflow.url, body)
    first, second = workflow.requests()
    assert (first.status, second.status) == (429, 202)
    assert second.arrived - first.arrived >= 1.0  # the stand-in's own clock: the pause Retry-After asked for
    assert second.body == body
    assert metrics.points(telemetry.CARDS_THROTTLED) == [({}, 1)]


def test_server_errors_are_retried_with_backoff_then_reported_as_unavailable(workflow):
    workflow.fail_next(500, times=2, body="oops")
    fast_sender().post(workflow.url, encode(paged_card_message()))
    assert [r.status for r in workflow.requests()] == [500, 500, 202]

    workflow.fail_next(503, times=3)
    with pytest.raises(WorkflowUnavailable) as failure:
        fast_sender().post(workflow.url, b"{}")
    assert failure.value.detail == "HTTP 503 from Workflows after 3 attempts"
    assert [r.status for r in workflow.requests()][3:] == [503, 503, 503]


def test_a_refused_card_is_not_retried(workflow):
    with pytest.raises(WorkflowRejected) as refusal:
        fast_sender().post(workflow.url, b'{"type": "not a message"}')
    assert (refusal.value.status, refusal.value.detail) == (400, "HTTP 400 from Workflows: expected a message")
    assert len(workflow.requests()) == 1


def test_a_retry_after_too_long_to_wait_is_left_to_the_queue(workflow):
    workflow.fail_next(429, retry_after="3600")
    with pytest.raises(WorkflowUnavailable) as failure:
        fast_sender().post(workflow.url, b"{}")
    assert "Retry-After 3600 s is too long to wait here" in failure.value.detail
    assert len(workflow.requests()) == 1


def test_retry_after_is_read_as_seconds_or_an_http_date():
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 02 Dec 2026 10:00:30 GMT", now) == 30.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("²") is None  # a digit to str.isdigit, not a number of seconds
    assert retry_after_seconds(None) is None


def test_the_limiter_lets_at_most_four_requests_start_in_any_window_across_threads():
    clock = SimpleNamespace(now=0.0)
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            clock.now += seconds

    limiter = RequestLimiter(max_requests=4, per_seconds=1.0, clock=lambda: clock.now, sleep=sleep)
    starts: list[float] = []

    def worker() -> None:
        for _ in range(5):
            limiter.acquire()
            with lock:
                starts.append(clock.now)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts.sort()
    assert len(starts) == 20
    assert max(sum(1 for t in starts if begin <= t < begin + 1.0) for begin in starts) == 4
    limiter.hold_for(10.0)
    before = clock.now
    limiter.acquire()
    assert clock.now >= before + 10.0  # a 429 pauses everyone


def test_real_posts_from_threads_stay_under_four_a_second_and_cards_waiting_share_a_request(workflow):
    sender = WorkflowSender(RequestLimiter(), attempts=1)
    bodies = [encode(paged_card_message(f"INC-{n}")) for n in range(1, 25)]
    threads = [threading.Thread(target=sender.post, args=(workflow.url, body)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    requests = workflow.requests()
    shown = sorted(facts(card.card)["Incident"] for card in workflow.delivered())
    assert shown == sorted(f"INC-{n}" for n in range(1, 25))  # every card once, each its own card in the channel
    assert all(r.status == 202 and len(r.body) <= 28 * 1024 for r in requests)
    # 24 cards alone would take six seconds of request slots; waiting ones ride along in the next request.
    assert len(requests) < len(bodies)
    arrivals = sorted(r.arrived for r in requests)
    # Arrival times are the stand-in's: a connection set up on a busy machine can land a request up to a few hundred
    # milliseconds after the limiter let it start, so count within 0.75 s of the limiter's 1.05 s window.
    assert max(sum(1 for t in arrivals if begin <= t < begin + 0.75) for begin in arrivals) <= 4


def test_a_card_alone_is_posted_byte_for_byte(workflow):
    body = encode(paged_card_message())
    fast_sender().post(workflow.url, body)
    assert [r.body for r in workflow.requests()] == [body]


def test_a_combined_request_refused_is_sent_again_card_by_card_so_one_bad_card_spares_the_others(workflow):
    sender = fast_sender()
    workflow.fail_next(429, retry_after="1")  # the first card waits a second: the others gather behind it
    good = [encode(paged_card_message(f"INC-{n}")) for n in (1, 2, 3)]
    bad = b'{"type":"message","attachments":[{"contentType":"text/plain","content":{"type":"AdaptiveCard"}}]}'
    outcomes: dict[bytes, str] = {}

    def post(body: bytes) -> None:
        try:
            sender.post(workflow.url, body)
            outcomes[body] = "sent"
        except WorkflowRejected as refusal:
            outcomes[body] = f"refused {refusal.status}"

    first = threading.Thread(target=post, args=(good[0],))
    first.start()
    workflow.wait_for_requests(1)
    others = [threading.Thread(target=post, args=(body,)) for body in [good[1], bad, good[2]]]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join()
    assert outcomes == {good[0]: "sent", good[1]: "sent", good[2]: "sent", bad: "refused 400"}
    sent = [(r.status, len(r.message["attachments"])) for r in workflow.requests()]
    assert sent[:3] == [(429, 1), (202, 1), (400, 3)]  # the three that waited went together, and were refused
    assert sorted(sent[3:]) == [(202, 1), (202, 1), (400, 1)]  # then one by one
    shown = sorted(facts(card.card)["Incident"] for card in workflow.delivered())
    assert shown == ["INC-1", "INC-2", "INC-3"]


def test_cards_waiting_for_a_webhook_that_is_down_fail_together_and_are_left_to_their_queues(workflow):
    sender = WorkflowSender(RequestLimiter(), attempts=2, backoff_seconds=0.5)
    workflow.down(503)
    failures: list[str] = []

    def post(body: bytes) -> None:
        try:
            sender.post(workflow.url, body)
        except WorkflowUnavailable as failure:
            failures.append(failure.detail)

    first = threading.Thread(target=post, args=(encode(paged_card_message("INC-1")),))
    first.start()
    workflow.wait_for_requests(1)
    others = [threading.Thread(target=post, args=(encode(paged_card_message(f"INC-{n}")),)) for n in (2, 3, 4)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join()
    # One card's two attempts reached the webhook; the three waiting behind it did not queue for attempts of their
    # own (each would defer its message through the outage anyway).
    assert failures == ["HTTP 503 from Workflows after 2 attempts"] * 4
    assert len(workflow.requests()) == 2


def paged_card_message(ident: str = "INC-7") -> dict:
    from tests.unit.notifications.test_cards import incident, links

    return paged_card(incident(id=ident), Recipient("Tim Jones"), "payments primary, step 1 of 1", links())


# --- the notifications function -----------------------------------------------------------------------------------


def test_channel_choice_prefers_the_rosters_own_webhooks():
    roster = SimpleNamespace(workflow_url="https://roster.example/wf", escalation_workflow_url="https://esc.example/wf")
    assert channel_url(roster, "https://all.example/wf", escalation=False) == "https://roster.example/wf"
    assert channel_url(roster, "https://all.example/wf", escalation=True) == "https://esc.example/wf"
    plain_roster = SimpleNamespace(workflow_url=None, escalation_workflow_url=None)
    assert channel_url(plain_roster, "https://all.example/wf", escalation=True) == "https://all.example/wf"
    assert channel_url(None, "https://all.example/wf", escalation=False) == "https://all.example/wf"
    assert channel_url(None, "", escalation=False) is None
    assert channel_url(None, "not a url", escalation=False) is None


def test_the_opening_event_pages_the_on_call_responder_as_escalation_step_0(notifying, storage_account, workflow):
    ident, events = open_incident(notifying)
    assert notify(ChangeMessage(ident, events), 1, WEDNESDAY, notifier(), message_id="m-1") == []
    (received,) = workflow.delivered()
    assert (facts(received.card)["Paged"], facts(received.card)["Why"]) == (
        "Tim Jones",
        "payments primary, step 1 of 3, round 1 of 2",
    )
    assert [e.text for e in notifying.timeline(ident) if e.kind == "escalation.paged"] == [
        "paged Tim Jones (payments primary, step 1 of 3, round 1 of 2)"
    ]
    # Step 1 waits on the escalations queue; the same message again, or a second one, pages nobody twice.
    queue = storage_account.queue("escalations")
    assert queue.get_queue_properties().approximate_message_count == 1
    notify(ChangeMessage(ident, events), 2, WEDNESDAY, notifier(), message_id="m-1")
    notify(ChangeMessage(ident, events), 1, WEDNESDAY, notifier(), message_id="m-2")
    assert len(workflow.delivered()) == 1
    assert queue.get_queue_properties().approximate_message_count == 1


def test_a_sev4_incident_follows_the_policy_routed_by_severity(notifying, storage_account, workflow):
    ident, events = open_incident(notifying, severity="Sev4")
    notify(ChangeMessage(ident, events), 1, WEDNESDAY, notifier(), message_id="m-1")
    assert [facts(r.card)["Why"] for r in workflow.delivered()] == ["payments primary, step 1 of 1"]
    assert storage_account.queue("escalations").get_queue_properties().approximate_message_count == 0
    assert EscalationLedger(storage_account).chain_end(ident) == ("once", WEDNESDAY)


def test_acknowledged_role_and_resolved_cards_are_posted_once_each(notifying, workflow, metrics):
    ident, _ = open_incident(notifying)
    changes = [
        say(notifying, "ack INC-1", minute=1),
        say(notifying, "role INC-1 commander Larry Brown", minute=2),
        say(notifying, "role INC-1 comms Priya Raman", minute=3),
        say(notifying, "role INC-1 scribe Aiko Tanaka", minute=4),  # the channel does not need to hear of scribes
        say(notifying, "handoff INC-1 Tim Jones", who="Larry Brown", minute=5),
        say(notifying, "resolve INC-1 rolled back the release", minute=6),
    ]
    posted = [notify(ChangeMessage(ident, events), 1, WEDNESDAY, notifier()) for events in changes]
    assert [[key.split("-")[1] for key in keys] for keys in posted] == [
        ["acknowledged"],
        ["role"],
        ["role"],
        [],
        ["role"],
        ["resolved"],
    ]
    cards = [r.card for r in workflow.delivered()]
    assert [headline(card) for card in cards] == [
        "<at>Tim Jones</at> acknowledged INC-1; escalation stops.",
        "<at>Larry Brown</at> is incident commander of INC-1.",
        "<at>Priya Raman</at> is communication coordinator of INC-1.",
        "<at>Tim Jones</at> is incident commander of INC-1 (taking over from Larry Brown).",
        "INC-1 is resolved by Tim Jones.",
    ]
    assert metrics.by(telemetry.CARDS_SENT, "card") == {"acknowledged": 1, "role": 3, "resolved": 1}
    assert facts(cards[-1]) == {
        "Incident": "INC-1",
        "Severity": "SEV2",
        "Service": "checkout",
        "Status": "resolved",
        "Detected": "2026-12-02T09:58:00.000Z",
        "Summary": "Tim Jones resolved the incident: rolled back the release",
        "Duration": "8 min",
    }
    assert cards[0]["actions"] == [
        {"type": "Action.OpenUrl", "title": "Runbook", "url": "https://runbooks.example.com/checkout"},
        {
            "type": "Action.OpenUrl",
            "title": "Status page",
            "url": f"https://status.example.com/incidents/{pid('INC-1')}.html",
        },
    ]
    assert cards[0]["msteams"]["entities"] == [
        {
            "type": "mention",
            "text": "<at>Tim Jones</at>",
            "mentioned": {"id": "tim.jones@example.com", "name": "Tim Jones"},
        }
    ]

    # Every message again (a redelivery): nothing is posted twice.
    again = [notify(ChangeMessage(ident, events), 2, WEDNESDAY, notifier()) for events in changes]
    assert again == [[], [], [], [], [], []]
    assert len(workflow.delivered()) == 5


def test_without_a_workflow_url_the_timeline_says_notifications_are_not_configured_once(
    notifying, monkeypatch, workflow, storage_account
):
    monkeypatch.delenv("TEAMS_WORKFLOW_URL")
    ident, opening = open_incident(notifying)
    assert notify(ChangeMessage(ident, opening), 1, WEDNESDAY, notifier(), message_id="m-1") == []
    for minute in (1, 2):
        events = say(notifying, f"role INC-1 comms {'Priya Raman' if minute == 1 else 'Tim Jones'}", minute=minute)
        assert notify(ChangeMessage(ident, events), 1, WEDNESDAY, notifier()) == []
    # One event says so; escalation, with nobody it could page, ends without filling the timeline.
    assert [e.kind for e in notifying.timeline(ident)] == [
        "alert.fired",
        "notification.not_configured",
        "role.assigned",
        "role.assigned",
    ]
    said = [e.text for e in notifying.timeline(ident) if e.kind == "notification.not_configured"]
    assert said == [
        "notifications not configured: set TEAMS_WORKFLOW_URL (or the roster's workflow_url) to a Teams Workflows "
        "webhook to post cards"
    ]
    assert workflow.requests() == []
    assert storage_account.queue("escalations").get_queue_properties().approximate_message_count == 0


def test_failures_retry_then_the_last_delivery_writes_notification_failed(notifying, workflow):
    ident, _ = open_incident(notifying)
    events = say(notifying, "ack INC-1")
    workflow.fail_next(500, times=6, body="Workflows is down")
    for delivery in (1, 2):
        with pytest.raises(WorkflowUnavailable):
            notify(ChangeMessage(ident, events), delivery * 4 - 3, WEDNESDAY, notifier())  # deliveries 1 and 5
    failed = [e.text for e in notifying.timeline(ident) if e.kind == "notification.failed"]
    assert failed == ["notification failed: HTTP 500 from Workflows: Workflows is down after 3 attempts"]
    assert workflow.delivered() == []
    assert not EscalationLedger(notifying._account).sent(ident, f"card-acknowledged-{events[0]}")


def test_a_refused_card_is_recorded_and_never_sent_again(notifying, workflow):
    ident, _ = open_incident(notifying)
    events = say(notifying, "ack INC-1")
    workflow.fail_next(413, body="too large")
    assert notify(ChangeMessage(ident, events), 1, WEDNESDAY, notifier()) == []
    assert notify(ChangeMessage(ident, events), 2, WEDNESDAY, notifier()) == []
    failed = [e.text for e in notifying.timeline(ident) if e.kind == "notification.failed"]
    assert failed == ["notification failed: HTTP 413 from Workflows: too large"]
    assert len(workflow.requests()) == 1


def test_page_from_teams_pages_the_rosters_primary_and_records_who_knows(notifying, workflow):
    ident, _ = open_incident(notifying)
    at = WEDNESDAY + timedelta(minutes=3)
    request = TimelineEvent(
        ident,
        event_id(at, "teams-page"),
        PAGE_REQUESTED,
        at,
        at,
        "Larry Brown",
        "teams",
        "Larry Brown asked to page payments",
        data={"target": "payments", "by": "Larry Brown"},
    )
    notifying.append_event(request)
    assert notify(ChangeMessage(ident, (request.event_id,)), 1, WEDNESDAY, notifier()) == [
        f"card-paged-{request.event_id}"
    ]
    (card,) = [r.card for r in workflow.delivered()]
    assert (facts(card)["Paged"], facts(card)["Why"]) == ("Tim Jones", "payments primary, requested by Larry Brown")
    assert [e.text for e in notifying.timeline(ident) if e.kind == "escalation.paged"] == [
        "paged Tim Jones (requested by Larry Brown)"
    ]
    assert notifying.get_incident(ident).notified == ("Tim Jones",)


def test_a_page_for_nobody_firebell_knows_is_said_and_pages_nobody(notifying, workflow):
    ident, _ = open_incident(notifying)
    at = WEDNESDAY + timedelta(minutes=3)
    request = TimelineEvent(
        ident, event_id(at, "teams-page"), PAGE_REQUESTED, at, at, "Larry Brown", "teams", "…",
        data={"target": "paymnts", "by": "Larry Brown"},
    )  # fmt: skip
    notifying.append_event(request)
    assert notify(ChangeMessage(ident, (request.event_id,)), 1, WEDNESDAY, notifier()) == []
    assert workflow.delivered() == []
    assert [e.text for e in notifying.timeline(ident) if e.kind == "escalation.skipped"] == [
        "page paymnts requested by Larry Brown reached nobody: no roster or person of that name"
    ]
    assert notifying.get_incident(ident).notified == ()


def test_an_unreadable_message_is_dropped_not_retried():
    with pytest.raises(Exception) as refused:
        ChangeMessage.parse(b"not json")
    assert refused.value.detail == "a change message must be JSON"
    assert ChangeMessage.parse(b'{"incident": "INC-3", "event": "e1"}') == ChangeMessage("INC-3", ("e1",))


def test_through_the_devhost_an_alert_pages_the_primary_and_the_delayed_next_step_pages_the_next_person(
    workflow, config_dir, monkeypatch, storage_account
):
    # Two steps, 1.5 s apart (2 s on the queue); the second pages a named person, whatever the day.
    (config_dir / "escalations.toml").write_text(
        '[policy.two]\nsteps = [{ roster_layer = "primary", wait_minutes = 0.025 }, { person = "Priya Raman" }]\n'
        '[default]\npolicy = "two"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("TEAMS_WORKFLOW_URL", workflow.url)
    monkeypatch.setenv("STATUS_PAGE_URL", STATUS_PAGE)
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", "test-key")
    context.reset()
    import function_app
    from devhost.azurite import free_port
    from devhost.host import DevHost

    host = DevHost(function_app.app, ROOT / "host.json", port=free_port()).start()
    try:
        answer = requests.post(f"{host.url}/api/alerts?code=test-key", data=alert(), timeout=10)
        assert answer.status_code == 202
        first, second = workflow.wait_for(2, timeout=20)
    finally:
        host.stop()
    assert [(facts(r.card)["Paged"], facts(r.card)["Why"]) for r in (first, second)] == [
        ("Tim Jones", "payments primary, step 1 of 2"),
        ("Priya Raman", "named contact, step 2 of 2"),
    ]
    assert second.arrived - first.arrived >= 2.0  # the visibility delay held the second step back
    store = IncidentStore(storage_account)
    assert store.get_incident("INC-1").notified == ("Tim Jones", "Priya Raman")
    assert [e.text for e in store.timeline("INC-1") if e.kind == "escalation.paged"] == [
        "paged Tim Jones (payments primary, step 1 of 2)",
        "paged Priya Raman (named contact, step 2 of 2)",
    ]


def test_an_opening_is_passed_on_to_the_status_page_once_its_page_is_out(
    notifying, storage_account, workflow, monkeypatch
):
    from shared.incidents.changes import change_message
    from shared.notifications import notify as notify_module

    # The forwarding's own bound (2 s) out of the way: a slow machine must not let it go while the page is held.
    monkeypatch.setattr(notify_module, "FORWARD_AFTER", 60.0)
    ident, events = open_incident(notifying)
    body = change_message(ident, events, ["alert.fired"]).encode()
    workflow.hold()  # Workflows takes the page's request and does not answer until the test says
    paging = threading.Thread(target=notify_module.on_change, args=(body, "m-1", 1, WEDNESDAY, notifier()))
    paging.start()
    statuspage = storage_account.queue("statuspage")
    try:
        workflow.wait_for_held(1)  # the page is at Workflows, not yet accepted: the change waits for it
        assert statuspage.get_queue_properties().approximate_message_count == 0
    finally:
        workflow.release()
    paging.join(timeout=15)
    assert [facts(received.card)["Paged"] for received in workflow.delivered()] == ["Tim Jones"]
    assert statuspage.get_queue_properties().approximate_message_count == 1


def test_the_forwarding_is_let_go_once_the_opening_page_is_out(notifying, workflow):
    from shared.notifications.notify import notify

    ident, events = open_incident(notifying)
    cards_when_let_go = []
    paged = lambda: cards_when_let_go.append(len(workflow.delivered()))  # noqa: E731
    notify(ChangeMessage(ident, events, frozenset({"alert.fired"})), 1, WEDNESDAY, notifier(), "m-1", paged=paged)
    assert cards_when_let_go == [1]  # once, with the page already at the channel


def test_a_retry_after_longer_than_a_redelivery_defers_the_message_for_exactly_that_long(
    notifying, storage_account, workflow
):
    from shared.incidents.changes import change_message
    from shared.notifications.notify import on_change

    ident, _ = open_incident(notifying)
    body = change_message(ident, say(notifying, "ack INC-1", who="Tim Jones"), ["incident.acknowledged"])
    workflow.fail_next(429, retry_after="120")
    deferred = on_change(body.encode(), "m-1", 1, WEDNESDAY, notifier())  # completes: not a failed delivery
    assert len(workflow.requests()) == 1  # asked once, then left to the queue rather than waited out in-process
    assert pause_of(deferred) == timedelta(seconds=120)  # Workflows' Retry-After, not the 10 s backoff
    queue = storage_account.queue("notifications")
    assert list(queue.peek_messages(max_messages=5)) == []  # hidden for the pause Workflows asked for …
    assert queue.get_queue_properties().approximate_message_count == 1  # … but there
    assert json.loads(deferred.content) == {
        **json.loads(body),
        "holder": "m-1",
        "deferrals": 1,
        "first_failure": "2026-12-02T10:00:00.000Z",
    }
    assert not [e for e in notifying.timeline(ident) if e.kind == "notification.failed"]


def test_the_trigger_defers_too(notifying, storage_account, workflow):
    from azure.functions.queue import QueueMessage

    from functions.notifications import on_change
    from shared.incidents.changes import change_message

    ident, _ = open_incident(notifying)
    body = change_message(ident, say(notifying, "ack INC-1", who="Tim Jones"), ["incident.acknowledged"])
    workflow.down(503)
    on_change(QueueMessage(id="m-1", body=body.encode(), dequeue_count=5))  # the last delivery: deferred, not failed
    workflow.up()
    assert storage_account.queue("notifications").get_queue_properties().approximate_message_count == 1
    assert not [e for e in notifying.timeline(ident) if e.kind == "notification.failed"]


# --- dependency outages: time made fast ---------------------------------------------------------------------------


def ride_out(flow, queue, body: str, start: datetime, outage: timedelta | None, workflow, *, duplicate=None):
    """Deliver `body` at `start` with Workflows down, then each deferred copy as the queue would hand it out after its
    pause — the test's clock moved on by the pause the queue recorded, the copy made visible at once. Workflows
    comes back once the clock passes `start + outage` (never when None). `duplicate(now)` runs once, a quarter of an
    hour in. Returns (the pauses in seconds, the clock at the end, the last body, the exception that ended it)."""
    workflow.down(503, "Workflows is down")
    pauses: list[int] = []
    now, content, ident, dequeue = start, body, "m-1", 1
    while True:
        try:
            deferred = flow(content.encode(), ident, dequeue, now, notifier())
        except WorkflowUnavailable as failure:
            return pauses, now, content, failure
        if deferred is None:
            return pauses, now, content, None
        pauses.append(int(pause_of(deferred).total_seconds()))
        now += pause_of(deferred)
        if outage is not None and now >= start + outage:
            workflow.up()
        if duplicate is not None and now >= start + timedelta(minutes=15):
            duplicate(now)
            duplicate = None
        message = redeliver(queue, deferred)
        queue.delete_message(message)  # the host deletes a message once its run completes
        content, ident, dequeue = message.content, message.id, message.dequeue_count


# The pauses: 10 s doubling to 5 min, then 5 min each (shared.core.deferral).
BACKOFF = [10, 20, 40, 80, 160]


@pytest.mark.parametrize(
    ("minutes", "pauses"),
    [(1, [10, 20, 40]), (5, BACKOFF), (30, [*BACKOFF, 300, 300, 300, 300, 300])],
)
def test_a_workflows_outage_delays_the_first_page_and_never_loses_it(
    notifying, storage_account, workflow, minutes, pauses
):
    from shared.incidents.changes import change_message
    from shared.notifications.notify import on_change

    ident, events = open_incident(notifying)
    body = change_message(ident, events, ["alert.fired"])
    queue = storage_account.queue("notifications")
    duplicates = []

    def duplicate(now: datetime) -> None:
        # A second message for the same opening, 15 minutes into the outage — past the escalation claim's 10-minute
        # lease: the deferred message renewed its claim, so the duplicate leaves the step alone.
        duplicates.append(on_change(body.encode(), "m-2", 1, now, notifier()))

    taken, end, _, failure = ride_out(
        on_change, queue, body, WEDNESDAY, timedelta(minutes=minutes), workflow, duplicate=duplicate
    )
    assert (taken, failure) == (pauses, None)
    assert end == WEDNESDAY + timedelta(seconds=sum(pauses))
    (card,) = [r.card for r in workflow.delivered()]  # exactly one page, after the outage
    assert facts(card)["Paged"] == "Tim Jones"
    assert [e.text for e in notifying.timeline(ident) if e.kind.startswith(("escalation.", "notification."))] == [
        "paged Tim Jones (payments primary, step 1 of 3, round 1 of 2)"
    ]
    assert duplicates == ([None] if minutes == 30 else [])
    assert EscalationLedger(storage_account).step(ident, FIRST).state == "paged"
    assert queue.get_queue_properties().approximate_message_count == 0  # nothing deferred any more
    assert storage_account.queue("escalations").get_queue_properties().approximate_message_count == 1  # step 1
    assert poison_messages(storage_account) == 0


def test_an_outage_longer_than_the_bound_fails_the_page_once_on_its_last_delivery(notifying, storage_account, workflow):
    from shared.core.deferral import OUTAGE_BOUND
    from shared.incidents.changes import change_message
    from shared.notifications.notify import on_change

    ident, events = open_incident(notifying)
    body = change_message(ident, events, ["alert.fired"])
    queue = storage_account.queue("notifications")
    pauses, now, last_body, failure = ride_out(on_change, queue, body, WEDNESDAY, None, workflow)
    # Deferred until 45 minutes had passed since the first failure; the attempt after that failed and was not
    # deferred again: the queue redelivers it (deliveries 2 to 5, seconds apart), and the fifth gives up.
    assert pauses == [*BACKOFF, *[300] * 8]
    assert now == WEDNESDAY + timedelta(seconds=2710) and now - WEDNESDAY >= OUTAGE_BOUND
    assert isinstance(failure, WorkflowUnavailable)
    failed = lambda: [e.text for e in notifying.timeline(ident) if e.kind == "notification.failed"]  # noqa: E731
    assert failed() == []
    for delivery in (2, 3, 4, 5):
        now += timedelta(seconds=5)
        with pytest.raises(WorkflowUnavailable):
            on_change(last_body.encode(), "m-14", delivery, now, notifier())
        assert queue.get_queue_properties().approximate_message_count == 0  # never deferred again
    assert failed() == ["notification failed: HTTP 503 from Workflows: Workflows is down after 3 attempts"]
    assert workflow.delivered() == []
    # Escalation goes on to the next person; the message itself goes to notifications-poison (the host's move).
    assert EscalationLedger(storage_account).step(ident, FIRST).state == "failed"
    assert storage_account.queue("escalations").get_queue_properties().approximate_message_count == 1


def test_the_last_delivery_writes_any_failure_on_the_timeline_once(notifying, storage_account, workflow):
    from shared.incidents.changes import change_message
    from shared.notifications.notify import on_change

    ident, _ = open_incident(notifying)
    at = WEDNESDAY + timedelta(minutes=3)
    # A row no release of Firebell writes (its data is not an object): the card cannot be built, on every delivery.
    assigned = TimelineEvent(
        ident, event_id(at, "role"), "role.assigned", at, at, "Larry Brown", "teams", "…",
        data=["commander", "Tim Jones"],  # type: ignore[arg-type]
    )  # fmt: skip
    notifying.append_event(assigned)
    body = change_message(ident, [assigned.event_id], ["role.assigned"])
    for delivery in (1, 2, 3, 4, 5):
        with pytest.raises(AttributeError):
            on_change(body.encode(), "m-1", delivery, at + timedelta(seconds=5 * delivery), notifier())
    (failed,) = [e for e in notifying.timeline(ident) if e.kind == "notification.failed"]
    assert failed.text == "notification failed: AttributeError: 'list' object has no attribute 'get'"
    assert storage_account.queue("notifications").get_queue_properties().approximate_message_count == 0
    assert workflow.requests() == []


def test_a_name_stored_with_a_lone_surrogate_still_gives_a_card_that_encodes_and_is_delivered(notifying, workflow):
    from shared.incidents.changes import change_message
    from shared.notifications.notify import on_change

    ident, _ = open_incident(notifying)
    at = WEDNESDAY + timedelta(minutes=3)
    # Rows written before the text policy may hold one; the card encoder used to fail on it on every delivery.
    assigned = TimelineEvent(
        ident, event_id(at, "role"), "role.assigned", at, at, "Larry Brown", "teams", "…",
        data={"role": "commander", "person": "Tim \ud800 Jones\u202e"},
    )  # fmt: skip
    notifying.append_event(assigned)
    on_change(change_message(ident, [assigned.event_id], ["role.assigned"]).encode(), "m-1", 1, at, notifier())
    (received,) = workflow.delivered()
    assert headline(received.card) == "Tim \ufffd Jones is incident commander of INC-1."
    assert [e for e in notifying.timeline(ident) if e.kind == "notification.failed"] == []


def test_health_counts_poison_messages_without_turning_unhealthy(firebell, storage_account, monkeypatch):
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", "health-key")
    details = f"{firebell}/health/details"
    key = {"x-functions-key": "health-key"}
    assert requests.get(details, headers=key, timeout=10).json()["poison_messages"] == 0  # no poison queue at all
    for queue, count in (("notifications-poison", 2), ("workitems-poison", 1)):
        for n in range(count):
            storage_account.queue(queue).send_message(json.dumps({"incident": "INC-1", "event": f"e{n}"}))
    answer = requests.get(details, headers=key, timeout=10)
    assert (answer.status_code, answer.json()["status"], answer.json()["poison_messages"]) == (200, "healthy", 3)
    assert "-poison" not in answer.text  # the number only: no queue names, incidents or reasons


def poison_messages(storage_account) -> int:
    from shared.core.queues import QUEUES, poison

    return sum(storage_account.message_count(poison(queue)) for queue in QUEUES)
