"""Incident channels against a Microsoft Graph stand-in (tests/standins/graph_server.py: HTTPS, the Entra token
endpoint of the client-credentials grant, channels, messages with @odata.nextLink paging, archive, subscriptions
with their validation handshake) and a Workflows stand-in for the channel flow, with the incident store in Azurite.

The `channels` handler runs on real QueueMessages (the test picks the delivery count and the clock); tokens come
from azure-identity's ClientSecretCredential through the stand-in's authority, over real sockets.
"""

from __future__ import annotations

import html
import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage

from functions import context
from shared.channels import flows
from shared.channels.connections import Connections
from shared.channels.graph import Graph, GraphTarget
from shared.channels.ledger import CHANNELS_TABLE
from shared.core import deferral, storage
from shared.core.queues import CHANNELS, MAX_DEQUEUE_COUNT
from shared.core.timeutil import utc_now
from shared.incidents.changes import CHANNEL_KINDS, ChangeMessage, forward_queues
from shared.incidents.declaration import Declaration
from shared.incidents.declaration_intake import open_declared
from shared.incidents.incident import Incident
from shared.incidents.timeline import CHANNEL_ARCHIVED, CHANNEL_CREATED, CHANNEL_FAILED, CHAT_MESSAGE, TimelineEvent
from tests.conftest import ROOT, pause_of, redeliver
from tests.integration import test_workitems as workitems_tests
from tests.integration.test_workitems import chat
from tests.standins.entra_tokens import Certificate
from tests.standins.graph_server import TEAM_ID, GraphServer, later
from tests.standins.workflow_server import WorkflowServer

CLIENT_STATE = "a-long-random-client-state-secret"


@pytest.fixture
def graph(azurite_certificate: Certificate) -> Iterator[GraphServer]:
    with GraphServer(azurite_certificate) as server:
        yield server


@pytest.fixture
def flow() -> Iterator[WorkflowServer]:
    with WorkflowServer() as server:
        yield server


@pytest.fixture
def configured(storage_account, graph, flow, azurite_certificate, tmp_path: Path, monkeypatch) -> GraphServer:
    folder = tmp_path / "config"
    folder.mkdir()
    for name in ("services.toml", "people.toml"):
        shutil.copy(ROOT / "config" / name, folder / name)
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(folder))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite_certificate.ca_bundle))
    for name, value in graph.settings().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TEAMS_CHANNEL_WORKFLOW_URL", flow.url_for("incident-channel"))
    monkeypatch.setenv("TEAMS_WORKFLOW_URL", flow.url_for("roster"))
    monkeypatch.setenv("WEBSITE_HOSTNAME", "firebell.azurewebsites.net")
    monkeypatch.setenv("STATUS_PAGE_URL", "https://status.example.com/")
    monkeypatch.delenv("GRAPH_CLIENT_STATE", raising=False)  # live recording: the tests that need it set it
    context.reset()
    return graph


def declare(
    severity: int = 2, title: str = "Checkout: latency / timeouts on *all* cards?"
) -> tuple[Incident, TimelineEvent]:
    return workitems_tests.declare(severity, title)


def message(incident_id: str, event_ids: list[str], dequeue_count: int = 1, ident: str | None = None) -> QueueMessage:
    body = json.dumps({"incident": incident_id, "event": event_ids[-1], "events": event_ids})
    return QueueMessage(id=ident or uuid.uuid4().hex, body=body.encode(), dequeue_count=dequeue_count)


def handle(delivery: QueueMessage, now: datetime | None = None) -> Any:
    settings = context.settings()
    return flows.on_change(
        delivery.get_body(),
        delivery.id or "",
        delivery.dequeue_count or 1,
        now or utc_now(),
        store=context.incident_store(),
        settings=settings,
        config=context.configuration(),
        account=storage.account(),
        services=Connections(settings, context.workflow_sender()),
    )


def stored(incident_id: str) -> Incident:
    found = context.incident_store().load_incident(incident_id)
    assert found is not None
    return found.incident


def timeline(incident_id: str, kind: str) -> list[TimelineEvent]:
    return [event for event in context.incident_store().timeline(incident_id) if event.kind == kind]


def channel_messages(incident_id: str) -> list[TimelineEvent]:
    return [event for event in timeline(incident_id, CHAT_MESSAGE) if event.source == "teams-channel"]


def opened(graph: GraphServer) -> tuple[Incident, str]:
    incident, opening = declare()
    assert handle(message(incident.id, [opening.event_id])) is None
    channel_id = stored(incident.id).channel_id
    assert channel_id is not None
    return stored(incident.id), channel_id


# --- made -----------------------------------------------------------------------------------------------------------
def test_the_channel_follows_every_change_that_can_make_resolve_or_close_it():
    for kinds in (["incident.declared"], ["alert.fired"], ["severity.changed"], ["status.changed"]):
        assert CHANNELS in forward_queues(ChangeMessage("INC-1", ("e",), frozenset(kinds)))
    assert CHANNELS not in forward_queues(ChangeMessage("INC-1", ("e",), frozenset({"note"})))
    assert "severity.changed" in CHANNEL_KINDS


def test_a_sev2_opening_makes_one_named_channel_links_it_and_posts_the_first_card(configured, flow):
    graph = configured
    incident, opening = declare()
    assert handle(message(incident.id, [opening.event_id])) is None

    (channel,) = graph.channels.values()
    # Teams' rules: at most 50 characters, none of ~ # % & * { } + / \ : < > ? | ' " — the id always whole.
    assert channel.display_name == f"{incident.id} Checkout latency timeouts on all cards"
    assert "Status page: https://status.example.com/incidents/" in channel.description
    assert "Runbook: https://" in channel.description
    now = stored(incident.id)
    assert (now.channel_id, now.channel_url) == (channel.id, channel.document(graph.base)["webUrl"])
    (created,) = timeline(incident.id, CHANNEL_CREATED)
    assert created.data == {"channel": channel.id, "url": now.channel_url, "name": channel.display_name}
    (card,) = flow.delivered("/workflows/incident-channel")
    assert (card.message["teamId"], card.message["channelId"]) == (TEAM_ID, channel.id)
    assert incident.id in card.card["body"][0]["text"]
    # The token came from the client-credentials grant, and every Graph call carried it.
    assert len(graph.requests("POST", "/oauth2/v2.0/token")) == 1
    assert not [r for r in graph.requests() if r.path.startswith("/v1.0") and r.status == 401]


def test_fifty_concurrent_deliveries_make_one_channel(configured, flow):
    graph = configured
    graph.create_delay = 0.3  # a wide window: the racers are all in it
    incident, opening = declare()
    first = message(incident.id, [opening.event_id])
    # 25 copies of the change (forwarded twice, say), each delivered twice at once: 50 deliveries.
    copies = [QueueMessage(id=f"copy-{n % 25}", body=first.get_body(), dequeue_count=1 + n // 25) for n in range(50)]
    results: list[Any] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(50)

    def deliver(delivery: QueueMessage) -> None:
        barrier.wait()
        try:
            results.append(handle(delivery))
        except BaseException as failure:
            failures.append(failure)

    threads = [threading.Thread(target=deliver, args=(copy,)) for copy in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures[:3]
    assert timeline(incident.id, CHANNEL_FAILED) == []
    assert len(graph.channels) == 1
    assert len([r for r in graph.requests("POST") if r.path.endswith("/channels") and r.status == 201]) == 1
    assert len(timeline(incident.id, CHANNEL_CREATED)) == 1
    deferred = [r for r in results if r is not None]
    # The deliveries that met another message's live claim were deferred, not failed; delivered later, they find
    # the channel made and make nothing.
    for _ in deferred:
        assert handle(message(incident.id, [opening.event_id])) is None
    assert len(graph.channels) == 1 and len(timeline(incident.id, CHANNEL_CREATED)) == 1
    assert len(flow.delivered("/workflows/incident-channel")) == 1
    assert stored(incident.id).channel_id == next(iter(graph.channels))


def test_a_channel_made_by_a_crashed_delivery_is_found_by_name_not_made_again(configured):
    graph = configured
    incident, opening = declare()
    target = GraphTarget(
        *(
            context.settings().__getattribute__(n)
            for n in ("graph_team_id", "graph_tenant_id", "graph_client_id", "graph_client_secret", "graph_url")
        )
    )
    from shared.channels.naming import channel_name

    made, created = Graph(target).ensure_channel(channel_name(incident), "made before the crash")
    assert created
    assert handle(message(incident.id, [opening.event_id])) is None
    assert list(graph.channels) == [made.id] and stored(incident.id).channel_id == made.id


def test_a_sev3_opening_makes_no_channel_until_someone_asks_in_teams(configured):
    from shared.incidents.changes import first_queue

    graph = configured
    incident, opening = declare(severity=3)
    assert handle(message(incident.id, [opening.event_id])) is None
    assert graph.channels == {} and stored(incident.id).channel_id is None

    asked = chat(f"channel {incident.id}")
    (event,) = context.incident_store().events(incident.id, asked)
    assert (event.kind, event.data["channel"]) == ("channel.requested", True)
    assert first_queue([event.kind]) == "notifications"  # which forwards it to `channels`
    assert CHANNELS in forward_queues(ChangeMessage(incident.id, tuple(asked), frozenset({event.kind})))
    assert handle(message(incident.id, asked)) is None
    (channel,) = graph.channels.values()
    assert stored(incident.id).channel_id == channel.id
    again = chat(f"channel {incident.id}")  # made already: the answer says where, and nothing changes
    assert handle(message(incident.id, again)) is None and len(graph.channels) == 1


def test_a_sev2_drill_gets_no_channel_unless_asked(configured):
    from dataclasses import replace

    graph = configured
    drill = replace(
        Declaration("Chaos Day", 2, "Ana Souza", "checkout", ("Checkout",), "customer", "", "", None), drill=True
    )
    declared = open_declared(drill, None, context.incident_store(), context.catalog(), utc_now())
    assert declared.event is not None and declared.incident.drill
    assert handle(message(declared.incident.id, [declared.event.event_id])) is None
    assert graph.channels == {}


def test_a_declaration_may_ask_for_a_channel_whatever_its_severity(configured):
    from shared.incidents.declaration import parse_declaration

    graph = configured
    document = {"title": "Search slow", "severity": 4, "reporter": "Ana Souza", "service": "checkout", "channel": True}
    declaration = parse_declaration(document, context.catalog(), utc_now())
    declared = open_declared(declaration, None, context.incident_store(), context.catalog(), utc_now())
    assert declared.event is not None and declared.event.data["channel"] is True
    assert handle(message(declared.incident.id, [declared.event.event_id])) is None
    assert len(graph.channels) == 1 and stored(declared.incident.id).channel_id is not None
    with pytest.raises(Exception, match="channel must be true or false"):
        parse_declaration({**document, "channel": "yes"}, context.catalog(), utc_now())


def test_without_graph_settings_it_is_said_once_on_the_timeline(storage_account, monkeypatch, tmp_path):
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(ROOT / "config"))
    monkeypatch.delenv("GRAPH_TEAM_ID", raising=False)
    context.reset()
    incident, opening = declare()
    for _ in range(3):
        assert handle(message(incident.id, [opening.event_id])) is None
    (said,) = timeline(incident.id, CHANNEL_FAILED)
    assert said.text.startswith("incident channels not configured")
    ids = [event.event_id for event in context.incident_store().timeline(incident.id)]
    assert ids.index(opening.event_id) < ids.index(said.event_id)  # the note follows the opening it is about


# --- faults ---------------------------------------------------------------------------------------------------------
def test_a_429_with_retry_after_is_waited_out_inside_the_call(configured):
    graph = configured
    graph.fail_next(429, retry_after="1")
    incident, opening = declare()
    assert handle(message(incident.id, [opening.event_id])) is None
    assert [r.status for r in graph.requests() if r.path.startswith("/v1.0")][:2] == [429, 200]
    assert len(graph.channels) == 1


def test_a_long_retry_after_defers_the_message_for_that_long_and_its_next_delivery_makes_the_channel(configured):
    graph = configured
    incident, opening = declare()
    graph.fail_next(429, retry_after="120")
    deferred = handle(message(incident.id, [opening.event_id]))
    assert deferred is not None and pause_of(deferred) == timedelta(seconds=120)
    assert graph.channels == {} and len(graph.requests("GET", "/channels")) == 1  # not retried in the call
    again = redeliver(storage.account().queue(CHANNELS), deferred)
    document = json.loads(again.content)
    assert document[deferral.DEFERRALS] == 1 and document["incident"] == incident.id
    assert handle(QueueMessage(id=again.id, body=again.content.encode(), dequeue_count=again.dequeue_count)) is None
    assert len(graph.channels) == 1 and stored(incident.id).channel_id is not None


def test_an_outage_defers_the_message_and_the_last_delivery_past_the_bound_says_why(configured):
    graph = configured
    incident, opening = declare()
    graph.fail_next(503, times=3)
    deferred = handle(message(incident.id, [opening.event_id]))
    assert deferred is not None  # back on `channels`, hidden for the first pause
    queued = storage.account().queue(CHANNELS).peek_messages(max_messages=5)
    assert len(queued) == 0  # hidden: not visible before its pause
    assert graph.channels == {} and timeline(incident.id, CHANNEL_FAILED) == []
    # Past the outage bound, on the queue's last delivery: the failure goes on the timeline, the message to poison.
    late = json.dumps(
        {
            **json.loads(message(incident.id, [opening.event_id]).get_body()),
            deferral.DEFERRALS: 9,
            deferral.FIRST_FAILURE: (utc_now() - timedelta(hours=1)).isoformat(),
        }
    )
    graph.fail_next(503, times=3)
    with pytest.raises(Exception, match="HTTP 503 from Graph"):
        handle(QueueMessage(id="last", body=late.encode(), dequeue_count=MAX_DEQUEUE_COUNT))
    (failed,) = timeline(incident.id, CHANNEL_FAILED)
    assert failed.text.startswith("channel not created: HTTP 503 from Graph")
    assert graph.channels == {} and stored(incident.id).channel_id is None


# --- recorded -------------------------------------------------------------------------------------------------------
def test_every_message_and_reply_reaches_the_timeline_once_when_the_incident_resolves(configured):
    graph = configured
    incident, channel_id = opened(graph)
    start = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    posts = [
        graph.post_message(channel_id, person, f"finding {n}: <b>db</b> &amp; cache", start + timedelta(minutes=n))
        for n, person in enumerate(["Ana Souza", "Tim Jones", "Ana Souza", "Lee Park", "Tim Jones"])
    ]
    replies = [
        graph.post_message(channel_id, "Lee Park", f"reply {n}", start + timedelta(minutes=10 + n), posts[1]["id"])
        for n in range(3)
    ]
    # An @firebell command reached the timeline through the outgoing webhook: the transcript leaves it out.
    graph.post_message(channel_id, "Tim Jones", "ack", start + timedelta(minutes=20), mentions_app="Firebell")
    resolved = chat(f"resolve {incident.id} rolled back")
    assert handle(message(incident.id, resolved)) is None
    assert handle(message(incident.id, resolved)) is None  # a redelivery reads again and writes nothing new

    recorded = channel_messages(incident.id)
    assert sorted(e.data["message"] for e in recorded) == sorted(m["id"] for m in posts + replies)
    first = next(e for e in recorded if e.data["message"] == posts[0]["id"])
    assert (first.actor, first.at, first.text) == ("Ana Souza", start, "Ana Souza: finding 0: db & cache")
    assert {e.data.get("reply_to") for e in recorded if "reply_to" in e.data} == {posts[1]["id"]}
    # Pages of two: the messages and the thread's replies were read across @odata.nextLink pages.
    assert any("skiptoken" in r.query for r in graph.requests("GET", "/messages"))
    assert any("skiptoken" in r.query for r in graph.requests("GET", "/replies"))


def test_a_believed_notification_records_new_messages_and_a_forged_or_stale_one_changes_nothing(
    configured, monkeypatch
):
    from functions.channels import on_notification

    graph = configured
    incident, channel_id = opened(graph)
    monkeypatch.setenv("GRAPH_CLIENT_STATE", CLIENT_STATE)
    context.reset()
    said = graph.post_message(channel_id, "Ana Souza", "failover started", datetime(2026, 12, 6, 9, 5, tzinfo=UTC))
    resource = f"teams('{TEAM_ID}')/channels('{channel_id}')/messages('{said['id']}')"

    def notification(client_state: str, expires: str) -> func.HttpRequest:
        note = {
            "subscriptionId": "s-1",
            "subscriptionExpirationDateTime": expires,
            "changeType": "created",
            "clientState": client_state,
            "resource": resource,
            "resourceData": {"id": said["id"]},
        }
        body = json.dumps({"value": [note]}).encode()
        return func.HttpRequest("POST", "http://localhost/api/graph/notifications", body=body, headers={})

    queue = storage.account().queue(CHANNELS)
    for forged in (notification("not-the-secret", later(30)), notification(CLIENT_STATE, later(-5))):
        answer = on_notification(forged)
        assert answer.status_code == 401, answer.get_body()
        assert json.loads(answer.get_body())["error"] == "unauthorized"
        assert queue.peek_messages(max_messages=5) == [] and channel_messages(incident.id) == []

    answer = on_notification(notification(CLIENT_STATE, later(30)))
    assert answer.status_code == 202
    (queued,) = queue.receive_messages(max_messages=5)
    assert json.loads(queued.content) == {"incident": incident.id, "transcript": True}
    assert handle(QueueMessage(id=queued.id, body=queued.content.encode(), dequeue_count=1)) is None
    (recorded,) = channel_messages(incident.id)
    assert (recorded.actor, recorded.data["message"]) == ("Ana Souza", said["id"])


def test_the_validation_handshake_echoes_the_token_as_plain_text():
    from functions.channels import on_notification

    token = "Validation: Testing client application reachability for subscription Request-Id: 1 <&>"
    answer = on_notification(
        func.HttpRequest(
            "POST", "http://localhost/api/graph/notifications", body=b"", params={"validationToken": token}, headers={}
        )
    )
    assert (answer.status_code, answer.get_body().decode(), answer.mimetype) == (200, token, "text/plain")


# --- archived -------------------------------------------------------------------------------------------------------
def test_closing_posts_the_review_link_then_archives_the_channel_once(configured, flow):
    graph = configured
    incident, channel_id = opened(graph)
    graph.post_message(channel_id, "Tim Jones", "all green", datetime(2026, 12, 6, 10, 0, tzinfo=UTC))
    handle(message(incident.id, chat(f"resolve {incident.id} fixed")))
    handle(message(incident.id, chat(f"postmortem {incident.id}")))
    assert not graph.channels[channel_id].archived  # GRAPH_ARCHIVE_ON defaults to closed
    closing = chat(f"close {incident.id}")
    for _ in range(2):
        assert handle(message(incident.id, closing)) is None

    assert graph.channels[channel_id].archived
    assert len(graph.requests("POST", "/archive")) == 1
    cards = flow.delivered("/workflows/incident-channel")
    assert len(cards) == 2  # the first card, and the last one
    last = cards[-1].card
    review = f"https://firebell.azurewebsites.net/api/incidents/{incident.id}/postmortem"
    assert {"type": "Action.OpenUrl", "title": "Review", "url": review} in last["actions"]
    (archived,) = timeline(incident.id, CHANNEL_ARCHIVED)
    assert archived.text == "channel archived"
    assert len(channel_messages(incident.id)) == 1


def test_where_archiving_is_refused_the_channel_is_renamed_closed(configured, flow):
    graph = configured
    incident, channel_id = opened(graph)
    graph.refuse_archive = True
    handle(message(incident.id, chat(f"resolve {incident.id} fixed")))
    handle(message(incident.id, chat(f"postmortem {incident.id}")))
    handle(message(incident.id, chat(f"close {incident.id}")))
    channel = graph.channels[channel_id]
    assert not channel.archived and channel.display_name.startswith(f"{incident.id} closed ")
    (archived,) = timeline(incident.id, CHANNEL_ARCHIVED)
    assert archived.text == "channel renamed closed (archiving refused)"


def test_the_incident_api_shows_the_channel(configured):
    from functions.incidents import get_incident

    graph = configured
    incident, channel_id = opened(graph)
    request = func.HttpRequest(
        "GET", f"http://localhost/api/incidents/{incident.id}", body=b"", route_params={"id": incident.id}, headers={}
    )
    document = json.loads(get_incident(request).get_body())
    assert document["channel"] == {"id": channel_id, "url": stored(incident.id).channel_url}
    assert storage.account().table(CHANNELS_TABLE).get_entity("channel", channel_id)["incident"] == incident.id


# --- commands in the channel ----------------------------------------------------------------------------------------
def test_a_command_in_the_incidents_channel_needs_no_incident_id(configured, monkeypatch):
    import base64
    import hashlib
    import hmac

    from functions.teams import on_message
    from shared.core.timeutil import iso
    from tests.conftest import SAMPLES, TEAMS_TOKEN

    graph = configured
    monkeypatch.setenv("TEAMS_OUTGOING_WEBHOOK_TOKEN", TEAMS_TOKEN)
    incident, channel_id = opened(graph)
    other, _ = declare(severity=2, title="Search is slow")

    def say(text: str, conversation: str) -> dict[str, Any]:
        document = json.loads((SAMPLES / "teams" / "outgoing_sample.json").read_text())
        document.update(id=uuid.uuid4().hex, text=f"<at>Firebell</at> {text}", timestamp=iso(utc_now()))
        # `from` as in the sample: Tim Jones, with the Teams id people.toml lists
        document["conversation"] = {"id": f"{conversation};messageid={document['id']}"}
        body = json.dumps(document).encode()
        digest = hmac.new(base64.b64decode(TEAMS_TOKEN), body, hashlib.sha256).digest()
        headers = {"Authorization": f"HMAC {base64.b64encode(digest).decode()}"}
        answer = on_message(func.HttpRequest("POST", "http://localhost/api/teams", body=body, headers=headers))
        assert answer.status_code == 200
        return json.loads(answer.get_body())

    reply = say("ack", channel_id)
    assert incident.id in reply["text"], reply
    assert stored(incident.id).status == "acknowledged", reply
    assert stored(other.id).status == "triggered"
    # Naming another incident in the channel acts on that one; elsewhere `ack` alone still needs an id.
    say(f"ack {other.id}", channel_id)
    assert stored(other.id).status == "acknowledged"
    elsewhere = say("ack", "19:some-other-channel@thread.tacv2")
    assert "INC-" in elsewhere["text"] and "needs" in elsewhere["text"]


def test_the_incidents_cards_go_into_its_channel_too_with_its_link(configured, flow):
    from shared.notifications import notify

    graph = configured
    incident, channel_id = opened(graph)
    acked = chat(f"ack {incident.id}")
    body = json.dumps(
        {"incident": incident.id, "event": acked[-1], "events": acked, "kinds": ["incident.acknowledged"]}
    )
    for _ in range(2):  # a redelivery posts nothing twice
        notify.on_change(body.encode(), "m-ack", 1, utc_now(), context.notifier())
    (roster_card,) = flow.delivered("/workflows/roster")
    in_channel = flow.delivered("/workflows/incident-channel")
    assert len(in_channel) == 2  # the channel's first card, then the acknowledgement
    ack = in_channel[-1]
    assert (ack.message["teamId"], ack.message["channelId"]) == (TEAM_ID, channel_id)
    assert ack.card == roster_card.card
    link = {"type": "Action.OpenUrl", "title": "Incident channel", "url": stored(incident.id).channel_url}
    assert link in roster_card.card["actions"]


def test_importing_function_app_loads_neither_graph_client_nor_its_http_and_identity_libraries():
    import os
    import subprocess
    import sys

    code = (
        "import json, sys, function_app\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('requests', 'msal')"
        " or m.startswith(('azure.identity', 'shared.channels.graph')))))"
    )
    environment = {**os.environ, "FIREBELL_CONFIG_DIR": str(ROOT / "config")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env=environment
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


class FunctionServer:
    """POST /api/graph/notifications served over real HTTP: the stand-in's validation handshake and notifications
    reach the function as Graph's would."""

    def __init__(self) -> None:
        from werkzeug.wrappers import Request, Response

        from functions.channels import on_notification
        from tests.standins.local_server import LocalServer

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            request = Request(environ)
            answer = on_notification(
                func.HttpRequest(
                    "POST",
                    request.url,
                    body=request.get_data(),
                    params=dict(request.args),
                    headers=dict(request.headers),
                )
            )
            response = Response(answer.get_body(), status=answer.status_code, mimetype=answer.mimetype)
            return response(environ, start_response)

        self.server = LocalServer(app, "firebell-notifications")

    def __enter__(self) -> str:
        self.server.start()
        return self.server.base.split("://", 1)[1]

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


def test_a_new_channel_is_subscribed_to_renewed_before_expiry_and_its_notifications_read(configured, monkeypatch):
    graph = configured
    with FunctionServer() as host:
        monkeypatch.setenv("WEBSITE_HOSTNAME", host)  # the notification URL: this app's /api/graph/notifications
        monkeypatch.setenv("GRAPH_CLIENT_STATE", CLIENT_STATE)
        context.reset()
        incident, channel_id = opened(graph)
        (subscription,) = graph.subscriptions.values()  # made only after the handshake was answered right
        assert subscription["notificationUrl"] == f"http://{host}/api/graph/notifications"
        assert subscription["resource"] == f"/teams/{TEAM_ID}/channels/{channel_id}/messages"
        assert subscription["clientState"] == CLIENT_STATE

        settings, account = context.settings(), storage.account()
        services = Connections(settings, context.workflow_sender())
        assert flows.renew_subscriptions(utc_now(), settings, account, services) == 0  # not due yet
        due = utc_now() + timedelta(minutes=40)
        assert flows.renew_subscriptions(due, settings, account, services) == 1
        renewed = datetime.fromisoformat(subscription["expirationDateTime"].replace("Z", "+00:00"))
        assert renewed == (due + flows.SUBSCRIPTION_LIFETIME).replace(microsecond=renewed.microsecond)

        said = graph.post_message(channel_id, "Ana Souza", "cache flushed", datetime(2026, 12, 6, 9, 7, tzinfo=UTC))
        assert graph.notify(subscription["id"], said["id"]).status_code == 202
        assert graph.notify(subscription["id"], said["id"], client_state="forged").status_code == 401
        (queued,) = account.queue(CHANNELS).receive_messages(max_messages=5)
        handle(QueueMessage(id=queued.id, body=queued.content.encode(), dequeue_count=1))
        (recorded,) = channel_messages(incident.id)
        assert recorded.data["message"] == said["id"]


def test_the_boards_item_links_the_channel_once(configured, tmp_path, monkeypatch):
    from shared.workitems import sync
    from tests.standins.boards_server import BoardsServer

    graph = configured
    (tmp_path / "config" / "boards.toml").write_text("[http]\ntimeout_seconds = 3\nattempts = 2\n")
    with BoardsServer() as boards:
        monkeypatch.setenv("AZURE_DEVOPS_ORG_URL", boards.org_url)
        monkeypatch.setenv("AZURE_DEVOPS_PROJECT", boards.project)
        monkeypatch.setenv("AZURE_DEVOPS_PAT", boards.pat)
        context.reset()
        incident, channel_id = opened(graph)
        (queued,) = storage.account().queue("workitems").receive_messages(max_messages=5)
        assert json.loads(queued.content)["kinds"] == ["channel.created"]
        for _ in range(2):  # a redelivery comments nothing twice
            sync.on_change(
                queued.content.encode(),
                queued.id,
                1,
                utc_now(),
                store=context.incident_store(),
                settings=context.settings(),
                config=context.configuration(),
                account=storage.account(),
            )
        (item,) = boards.work_items()
        (comment,) = item.comments
        link = html.escape(stored(incident.id).channel_url or "", quote=True)  # autoescaped HTML: & is &amp;
        assert f'<a href="{link}">' in comment["text"] and channel_id
        assert f"{incident.id} Checkout latency" in comment["text"]
