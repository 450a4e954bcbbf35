"""Communication Services without an access key: with ACS_ACCESS_KEY unset, Firebell signs its SMS and Call
Automation requests with an Entra ID token of its managed identity (`Authorization: Bearer`, scope
https://communication.azure.com//.default). Tested with the platform's managed-identity endpoint stand-in
(IDENTITY_ENDPOINT + IDENTITY_HEADER, what azure-identity's ManagedIdentityCredential asks in a Function App) and the
Communication Services stand-in, which accepts a token only for its audience from Entra's issuer, over real HTTP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from functions import context
from shared.contacts.contact import start_ladder
from shared.contacts.test_page import test_page as run_test_page
from shared.incidents.store import IncidentStore
from tests.integration import test_contacts as contacts
from tests.integration.test_contacts import TIM_PHONE, contact_texts, page_tim
from tests.integration.test_notifications import WEDNESDAY, notifier, open_incident
from tests.standins.entra_tokens import COMMUNICATION_AUDIENCE, ManagedIdentityEndpoint

acs, config_dir, workflow = contacts.acs, contacts.config_dir, contacts.workflow
IDENTITY_CLIENT_ID = "4a6c0d1e-0000-4000-8000-00000000acs1"  # the app's user-assigned identity


@pytest.fixture
def identity() -> Iterator[ManagedIdentityEndpoint]:
    with ManagedIdentityEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def keyless(paging, identity, monkeypatch) -> IncidentStore:
    """test_contacts' paging set-up, without the access key: the managed identity signs in."""
    monkeypatch.delenv("ACS_ACCESS_KEY")
    for name, value in identity.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_CLIENT_ID", IDENTITY_CLIENT_ID)
    context.reset()  # a fresh identity: no token from another test's endpoint
    return paging


paging = contacts.paging


def test_without_an_access_key_the_sms_carries_the_managed_identitys_token(keyless, acs, identity):
    ident = page_tim(keyless)
    (sms,) = acs.sms()
    assert sms.to == TIM_PHONE
    assert acs.bearer_subjects == [IDENTITY_CLIENT_ID]  # a token, not a signature, of the user-assigned identity
    assert [(r.resource, r.client_id) for r in identity.requests()] == [(COMMUNICATION_AUDIENCE, IDENTITY_CLIENT_ID)]
    assert contact_texts(keyless, ident) == ["SMS to Tim Jones sent (high urgency, rule step 2 of 4)"]


def test_calls_carry_the_token_too(keyless, acs, identity, workflow, monkeypatch):
    monkeypatch.setenv("ACS_EVENTS_SECRET", "event-grid-subscription-secret")
    _, attempts = run_test_page("Tim Jones", WEDNESDAY, notifier())
    assert [(a.channel, a.outcome) for a in attempts] == [("teams", "sent"), ("sms", "sent"), ("voice", "sent")]
    assert [call.action for call in acs.calls()] == ["create"]
    assert acs.bearer_subjects == [IDENTITY_CLIENT_ID, IDENTITY_CLIENT_ID]  # the SMS, then CreateCall
    assert len(identity.requests()) == 1  # one token, cached by azure-identity for both


def test_an_identity_endpoint_that_cannot_be_reached_defers_the_step_and_nothing_is_sent(keyless, acs, monkeypatch):
    with socket.socket() as closed:  # a port nothing listens on: the platform's endpoint is down
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{port}/msi/token")
    context.reset()
    ident, _ = open_incident(keyless)
    tim = context.people().named("Tim Jones")
    steps = start_ladder(notifier(), keyless.get_incident(ident), tim, "r01-s00", WEDNESDAY)
    # The SMS due at once is deferred like an outage (never dropped, never failed at once); the rest wait their turn.
    assert [(message.index, outcome) for message, outcome, _ in steps] == [
        (1, "deferred"),
        (2, "queued"),
        (3, "queued"),
    ]
    assert json.loads(steps[0][2].content)["holder"] == "inline-" + steps[0][0].key()
    assert (acs.statuses(), contact_texts(keyless, ident)) == ([], [])


def test_with_no_managed_identity_at_all_the_step_fails_at_once_and_the_next_one_goes(keyless, acs, monkeypatch):
    """No key and no identity (azure-identity's CredentialUnavailableError: also what an endpoint refusing the
    identity gives) is a configuration fault, not an outage: waiting 45 minutes cannot cure it."""
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
        monkeypatch.delenv(name)
    context.reset()
    ident, _ = open_incident(keyless)
    tim = context.people().named("Tim Jones")
    steps = start_ladder(notifier(), keyless.get_incident(ident), tim, "r01-s00", WEDNESDAY)
    assert [(message.index, outcome) for message, outcome, _ in steps] == [(1, "failed"), (2, "queued"), (3, "queued")]
    assert acs.statuses() == []
    (failure,) = contact_texts(keyless, ident)
    assert failure.startswith(
        "SMS to Tim Jones failed: no managed identity to sign in to Communication Services with (set ACS_ACCESS_KEY, "
        "or give the function app an identity): "
    )
    assert failure.endswith("; next: SMS at once")  # Tim's next step, not 45 minutes later


def test_the_standin_refuses_a_token_for_another_audience(acs):
    import requests

    from tests.standins.entra_tokens import storage_token

    body = {"from": "+18005550100", "smsRecipients": [{"to": TIM_PHONE}], "message": "x"}
    for token in (storage_token()[0], storage_token(audience=COMMUNICATION_AUDIENCE, lifetime=-300)[0]):
        answer = requests.post(
            f"{acs.endpoint}/sms?api-version=2021-03-07",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code == 401
    assert acs.sms() == []
