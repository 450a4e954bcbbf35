"""Event Grid deliveries to `POST /api/acs/events` authenticated by Entra ID instead of (or beside) the URL's secret:
the subscription's Entra app gets Event Grid a bearer token, which Firebell verifies like the alert webhook's
(shared.azure_monitor.secure_webhook) against a local stand-in of the tenant's published keys, over the real
FunctionApp in the devhost, Azurite and Communication Services' stand-in. Every refusal is 401 and changes nothing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from functions import context
from tests.integration import test_contacts as contacts
from tests.integration.test_contacts import SECRET, TIM_PHONE, page_tim
from tests.integration.test_notifications import WEDNESDAY
from tests.standins import acs_server
from tests.standins.entra_keys import KeyServer, jwk

acs, config_dir, paging, workflow = contacts.acs, contacts.config_dir, contacts.paging, contacts.workflow
TENANT = "7d2e4f60-0000-4000-8000-00000000e9e1"
AUDIENCE = "api://firebell-acs-events"
ROLE = "AzureEventGridSecureWebhookSubscriber"
EVENT_GRID_APP = "4962773b-9cdb-44cf-a8bf-237846a00ab7"  # the Microsoft.EventGrid service principal's app id
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
IMPOSTOR = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CODE = "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"


def token(key: rsa.RSAPrivateKey = KEY, **changes: Any) -> str:
    """An app-only v1 access token as Event Grid receives it for the subscription's Entra app (a claim changed to
    None is left out)."""
    now = int(time.time())
    claims = {
        "aud": AUDIENCE,
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "appid": EVENT_GRID_APP,
        "oid": str(uuid.uuid4()),
        "roles": [ROLE],
        "tid": TENANT,
        "ver": "1.0",
        **changes,
    }
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "key-1"})


@pytest.fixture
def keys() -> Iterator[KeyServer]:
    server = KeyServer([jwk(KEY, "key-1")], f"/{TENANT}/discovery/v2.0/keys")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def entra_api(paging, keys, monkeypatch) -> Iterator[str]:
    """Entra ID only: no ACS_EVENTS_SECRET."""
    monkeypatch.setenv("ACS_EVENTS_ENTRA_TENANT_ID", TENANT)
    monkeypatch.setenv("ACS_EVENTS_ENTRA_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("ACS_EVENTS_ENTRA_JWKS_URL", keys.url)
    context.reset()
    with contacts.running_firebell(background=False) as url:
        yield url


def deliver(api: str, event: dict, bearer: str | None, secret: str | None = None) -> requests.Response:
    headers = {"aeg-event-type": "Notification", **({"Authorization": f"Bearer {bearer}"} if bearer else {})}
    params = {"secret": secret} if secret else {}
    return requests.post(f"{api}/acs/events", params=params, json=[event], headers=headers, timeout=30)


def test_with_a_valid_token_the_handshake_and_an_sms_reply_are_accepted(entra_api, paging, acs):
    answer = deliver(entra_api, acs_server.validation_event(CODE, WEDNESDAY), token())
    assert (answer.status_code, answer.json()) == (200, {"validationResponse": CODE})
    ident = page_tim(paging)
    reply = acs_server.sms_received(TIM_PHONE, "ACK 1", WEDNESDAY + timedelta(seconds=30))
    assert deliver(entra_api, reply, token()).json() == {"acknowledged": 1, "reports": 0}
    assert paging.get_incident(ident).acknowledged_by == ("Tim Jones",)


@pytest.mark.parametrize(
    ("bearer", "detail"),
    [
        (None, "this delivery carries no Entra ID bearer token"),
        (token(roles=["ActionGroupsSecureWebhook"]), f"token lacks the {ROLE} app role"),
        (token(roles=[]), f"token lacks the {ROLE} app role"),
        (token(aud="api://firebell-alerts"), "token audience is not this application"),
        (
            token(iss="https://sts.windows.net/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d/"),
            "token issuer is not the configured Entra ID tenant",
        ),
        (token(exp=int(time.time()) - 3600, nbf=int(time.time()) - 7200), "token has expired"),
        (token(IMPOSTOR), "token signature does not verify against the Entra ID signing key"),
        # The right role from another app (the subscription's creator may hold it too) is not Event Grid.
        (token(appid="0c5d1e2f-0000-4000-8000-0000000f0e9e"), "token was not issued to Event Grid"),
        (
            token(appid=None, azp="0c5d1e2f-0000-4000-8000-0000000f0e9e", ver="2.0"),
            "token was not issued to Event Grid",
        ),
        (token(appid=None), "token was not issued to Event Grid"),
        # A signed-in user's (delegated) token, even one for Event Grid's app id, is not Event Grid's own.
        (token(scp="user_impersonation"), "token is a delegated (user) token; Event Grid sends an app-only one"),
        (token(idtyp="user"), "token is a delegated (user) token; Event Grid sends an app-only one"),
    ],
)
def test_forged_or_wrong_tokens_are_refused_and_change_nothing(entra_api, paging, acs, bearer, detail):
    ident = page_tim(paging)
    before = [event.event_id for event in paging.timeline(ident)]
    reply = acs_server.sms_received(TIM_PHONE, "ACK 1", WEDNESDAY + timedelta(seconds=30))
    answer = deliver(entra_api, reply, bearer, secret=SECRET)  # a guessed secret does not help: none is set
    assert answer.status_code == 401
    assert answer.json()["detail"] == detail
    assert [event.event_id for event in paging.timeline(ident)] == before


def test_a_v2_token_names_event_grid_in_azp_and_the_app_id_is_a_setting(entra_api, monkeypatch):
    event = acs_server.validation_event(CODE, WEDNESDAY)
    v2 = token(appid=None, azp=EVENT_GRID_APP, ver="2.0", idtyp="app")
    assert deliver(entra_api, event, v2).json() == {"validationResponse": CODE}
    sovereign = "5a0c3d8e-0000-4000-8000-00000000c10d"  # a national cloud's Event Grid app, say
    monkeypatch.setenv("ACS_EVENTS_ENTRA_PUBLISHER_APP_ID", sovereign)
    assert deliver(entra_api, event, token(appid=sovereign)).json() == {"validationResponse": CODE}
    assert deliver(entra_api, event, token()).status_code == 401


def test_with_both_configured_either_credential_works_but_a_bad_token_is_refused(entra_api, paging, monkeypatch):
    monkeypatch.setenv("ACS_EVENTS_SECRET", SECRET)
    event = acs_server.validation_event(CODE, WEDNESDAY)
    assert deliver(entra_api, event, None, secret=SECRET).json() == {"validationResponse": CODE}
    assert deliver(entra_api, event, token()).json() == {"validationResponse": CODE}
    assert deliver(entra_api, event, token(IMPOSTOR), secret=SECRET).status_code == 401
    assert deliver(entra_api, event, None, secret="guess").status_code == 401


def test_half_configured_entra_is_a_configuration_error_not_an_open_door(entra_api, monkeypatch):
    monkeypatch.delenv("ACS_EVENTS_ENTRA_AUDIENCE")
    answer = deliver(entra_api, acs_server.validation_event(CODE, WEDNESDAY), token())
    assert (answer.status_code, answer.json()["detail"]) == (
        503,
        "Event Grid Entra ID delivery: ACS_EVENTS_ENTRA_AUDIENCE is not set; set both ACS_EVENTS_ENTRA_TENANT_ID and "
        "ACS_EVENTS_ENTRA_AUDIENCE, or neither",
    )
