"""A paged person's `teams_activity` rule step: a Teams activity-feed notification to them alone through Microsoft
Graph (`POST /users/{id}/teamwork/sendActivityNotification`), against the local Graph stand-in over HTTPS (its
Entra token endpoint included), with Azurite and Communication Services' stand-in for the SMS step after it.

Proves: the notification goes out at once with the documented body, once however often its step is delivered;
throttling defers it; a refusal (the Teams app not installed for the person) or missing settings fail the step on
the timeline, saying why, and the person's next step goes out at once; test-page reaches the feed too."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from functions import context
from shared.contacts.contact import on_contact
from shared.contacts.ladder import ContactMessage
from shared.contacts.test_page import test_page as run_test_page
from shared.incidents.store import IncidentStore
from tests.conftest import pause_of, redeliver, write_config
from tests.integration import test_contacts as contacts
from tests.integration.test_contacts import LINK_KEY, TIM_PHONE, contact_texts, page_tim, queued
from tests.integration.test_notifications import ESCALATIONS, ONCALL, SERVICES, WEDNESDAY, notifier, open_incident
from tests.standins.acs_server import ACCESS_KEY, FROM_NUMBER
from tests.standins.entra_tokens import Certificate
from tests.standins.graph_server import GraphServer

acs, workflow = contacts.acs, contacts.workflow
TIM_ID = "6b1c0f5e-0000-4000-8000-0000000071e0"
TEAMS_APP_ID = "b7c7f1a2-0000-4000-8000-00000000a77e"
# test_contacts' people, Tim with an Entra object id and a Teams activity step before his SMS.
TIM_HIGH = """  high = [
    { channel = "teams" },
    { channel = "sms" },
    { channel = "sms", after_minutes = 1 },
    { channel = "voice", after_minutes = 3 },
  ]"""
ACTIVITY_FIRST = (
    '  high = [{ channel = "teams" }, { channel = "teams_activity" }, { channel = "sms", after_minutes = 1 }]'
)
PEOPLE = contacts.PEOPLE.replace(TIM_HIGH, ACTIVITY_FIRST)
PEOPLE = PEOPLE.replace(f'phone = "{TIM_PHONE}"\n', f'phone = "{TIM_PHONE}"\naad_object_id = "{TIM_ID}"\n', 1)
assert PEOPLE.count("teams_activity") == 1 and TIM_ID in PEOPLE


@pytest.fixture
def graph(azurite_certificate: Certificate) -> Iterator[GraphServer]:
    with GraphServer(azurite_certificate) as server:
        server.users[TIM_ID] = True
        yield server


@pytest.fixture
def paging(storage_account, workflow, acs, graph, azurite_certificate, tmp_path: Path, monkeypatch) -> IncidentStore:
    folder = write_config(
        tmp_path,
        {"services.toml": SERVICES, "people.toml": PEOPLE, "oncall.toml": ONCALL, "escalations.toml": ESCALATIONS},
    )
    settings = {
        "FIREBELL_CONFIG_DIR": str(folder),
        "TEAMS_WORKFLOW_URL": workflow.url,
        "ACS_ENDPOINT": acs.endpoint,
        "ACS_ACCESS_KEY": ACCESS_KEY,
        "ACS_FROM_NUMBER": FROM_NUMBER,
        "FIREBELL_ACK_LINK_KEY": LINK_KEY,
        "WEBSITE_HOSTNAME": "firebell.example.com",
        "REQUESTS_CA_BUNDLE": str(azurite_certificate.ca_bundle),
        "GRAPH_TEAMS_APP_ID": TEAMS_APP_ID,
        **graph.settings(),
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    context.reset()
    return IncidentStore(storage_account)


def notifications_sent(graph: GraphServer) -> list:
    return graph.requests("POST", "/sendActivityNotification")


def expected_chain(message: ContactMessage) -> int:
    return int(hashlib.sha256(f"{message.incident}/{message.key()}".encode()).hexdigest()[:15], 16)


def test_a_paged_person_gets_the_activity_notification_at_once_with_the_documented_body(paging, graph, acs):
    ident = page_tim(paging)
    ((sent,),) = [graph.feed(TIM_ID)]
    body = sent.body
    link = body["topic"].pop("webUrl")
    assert link.startswith("https://firebell.example.com/api/ack/")  # selecting it offers to acknowledge
    assert body == {
        "topic": {"source": "text", "value": "SEV2 INC-1"},
        "activityType": "systemDefault",
        "previewText": {"content": "checkout-latency"},
        "templateParameters": [{"name": "systemDefaultText", "value": "Firebell paged you: SEV2 INC-1"}],
        # The rule step's own number: the first 60 bits of SHA-256 of "<incident>/<its ledger key>".
        "chainId": expected_chain(
            ContactMessage(ident, "Tim Jones", "r01-s00", "high", 1, "teams_activity", WEDNESDAY)
        ),
        "teamsAppId": TEAMS_APP_ID,
    }
    assert contact_texts(paging, ident) == [
        "Teams activity notification to Tim Jones sent (high urgency, rule step 2 of 3)"
    ]
    assert acs.sms() == []  # the SMS step waits its minute on the queue


def test_the_step_is_sent_once_under_50_redeliveries(paging, graph):
    ident, _ = open_incident(paging)
    message = ContactMessage(ident, "Tim Jones", "r01-s00", "high", 1, "teams_activity", WEDNESDAY)
    body = json.dumps(message.to_json()).encode()
    for delivery in range(1, 51):
        assert on_contact(body, "contact-message-1", delivery, WEDNESDAY, notifier()) is None
    assert len(notifications_sent(graph)) == 1
    assert len(graph.feed(TIM_ID)) == 1
    assert contact_texts(paging, ident) == [
        "Teams activity notification to Tim Jones sent (high urgency, rule step 2 of 3)"
    ]


@pytest.mark.parametrize(("status", "retry_after", "pause"), [(429, "120", 120), (503, None, 10)])
def test_throttling_and_outages_defer_the_step_and_it_is_sent_once_later(
    paging, storage_account, graph, status, retry_after, pause
):
    ident, _ = open_incident(paging)
    message = ContactMessage(ident, "Tim Jones", "r01-s00", "high", 1, "teams_activity", WEDNESDAY)
    graph.fail_next(status, retry_after=retry_after)
    deferred = on_contact(json.dumps(message.to_json()).encode(), "contact-message-1", 1, WEDNESDAY, notifier())
    assert pause_of(deferred) == timedelta(seconds=pause)  # Retry-After wins; else the first backoff pause
    assert len(notifications_sent(graph)) == 1  # tried once: the queue message waits, not the caller
    assert (graph.feed(TIM_ID), contact_texts(paging, ident)) == ([], [])
    arrived = redeliver(storage_account.queue("contacts"), deferred)
    later = WEDNESDAY + timedelta(seconds=pause)
    assert on_contact(arrived.content.encode(), arrived.id, 1, later, notifier()) is None
    assert len(graph.feed(TIM_ID)) == 1
    # The retry is the same step: the same chainId, so Teams groups the two attempts as one notification.
    attempts = [(sent.status, json.loads(sent.body)["chainId"]) for sent in notifications_sent(graph)]
    assert attempts == [(status, expected_chain(message)), (204, expected_chain(message))]
    assert contact_texts(paging, ident) == [
        "Teams activity notification to Tim Jones sent (high urgency, rule step 2 of 3)"
    ]


def test_where_the_tenant_refuses_the_step_fails_and_the_next_goes_out_at_once(paging, storage_account, graph):
    graph.users[TIM_ID] = False  # the Teams app is not installed for Tim
    ident = page_tim(paging)
    assert graph.feed() == []
    assert contact_texts(paging, ident) == [
        "Teams activity notification to Tim Jones failed: Teams refused the activity notification: HTTP 403 from "
        "Graph: Forbidden The Teams app is not installed for the recipient user.; next: SMS at once"
    ]
    (visible,) = queued(storage_account)  # visible now, not after its minute
    following = ContactMessage.from_json(json.loads(visible.content))
    assert (following.channel, following.index, following.due) == ("sms", 2, WEDNESDAY)


def test_without_the_teams_app_setting_the_step_fails_saying_what_to_set(paging, storage_account, graph, monkeypatch):
    monkeypatch.delenv("GRAPH_TEAMS_APP_ID")
    ident = page_tim(paging)
    assert contact_texts(paging, ident) == [
        "Teams activity notification to Tim Jones failed: Teams activity notifications not configured: set "
        "GRAPH_TEAMS_APP_ID (and GRAPH_TENANT_ID, GRAPH_CLIENT_ID and GRAPH_CLIENT_SECRET, unless the managed "
        "identity signs in to Graph); next: SMS at once"
    ]
    assert graph.requests() == []  # not even a token was asked for
    assert len(queued(storage_account)) == 1


def test_a_test_page_reaches_the_activity_feed(paging, graph, acs, workflow):
    name, attempts = run_test_page("Tim Jones", WEDNESDAY, notifier())
    assert name == "Tim Jones"
    assert [(a.channel, a.outcome) for a in attempts] == [
        ("teams", "sent"),
        ("teams_activity", "sent"),
        ("sms", "sent"),
    ]
    ((sent,),) = [graph.feed(TIM_ID)]
    assert sent.body["templateParameters"] == [
        {"name": "systemDefaultText", "value": "Firebell test page: this is how a page reaches you in Teams"}
    ]
    assert sent.body["topic"]["webUrl"] == "https://teams.microsoft.com/"
    assert paging.list_incidents() == []
