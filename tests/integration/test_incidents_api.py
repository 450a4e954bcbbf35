"""The HTTP API of the real FunctionApp, served by an in-process devhost over a socket against Azurite:
declaring and reading incidents, and alerts behind the Entra ID secure webhook."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from functions import context
from shared.core.timeutil import utc_now
from tests.conftest import recorded_kinds, sample_bytes
from tests.integration.test_secure_webhook import AUDIENCE, KEY_1, TENANT, mint, timestamp, v1_claims
from tests.standins.entra_keys import KeyServer, jwk

KEY = "api-test-key"
DECLARATION = {
    "title": "Customers cannot pay with Visa",
    "severity": 2,
    "reporter": "Dana (support desk)",
    "service": "checkout",
    "customer_impact": "Card payments fail at the last step",
    "description": "Three tickets in ten minutes",
}


@pytest.fixture
def api(firebell, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    return firebell


def call(method: str, url: str, key: str | None = KEY, **kwargs) -> requests.Response:
    headers = {**({"x-functions-key": key} if key else {}), **kwargs.pop("headers", {})}
    return requests.request(method, url, headers=headers, timeout=30, **kwargs)


def test_the_support_desk_declares_an_incident_and_gets_it_back_with_201(api):
    before = utc_now()
    answer = call("POST", f"{api}/incidents", json=DECLARATION)
    assert answer.status_code == 201
    incident = answer.json()
    assert {name: incident[name] for name in ("id", "title", "status", "severity", "service")} == {
        "id": "INC-1",
        "title": "Customers cannot pay with Visa",
        "status": "triggered",
        "severity": "SEV2",
        "service": "checkout",
    }
    assert incident["detection_source"] == {"kind": "customer", "detail": "Dana (support desk) (customer report)"}
    assert incident["impact"] == {
        "components": ["Checkout"],
        "customer_impact": "Card payments fail at the last step",
        "component_statuses": {},
    }
    assert incident["who_knows"] == {"notified": [], "acknowledged_by": []}
    assert incident["runbook_url"] == "https://runbooks.example.com/checkout"
    assert incident["detected_at"] == incident["declared_at"] and incident["declared_at"] >= before.isoformat()[:19]
    (event,) = call("GET", f"{api}/incidents/INC-1").json()["timeline"]
    assert (event["kind"], event["actor"], event["source"]) == ("incident.declared", "Dana (support desk)", "api")


def test_a_retried_declaration_with_the_same_idempotency_key_creates_nothing_new(api):
    headers = {"Idempotency-Key": "ticket-4711"}
    first = call("POST", f"{api}/incidents", json=DECLARATION, headers=headers)
    again = call("POST", f"{api}/incidents", json=DECLARATION, headers=headers)
    assert (first.status_code, again.status_code, again.json()["id"]) == (201, 200, "INC-1")
    assert [i["id"] for i in call("GET", f"{api}/incidents").json()["incidents"]] == ["INC-1"]
    # The retry spent no number: the next declaration is INC-2.
    other = call("POST", f"{api}/incidents", json=DECLARATION, headers={"Idempotency-Key": "ticket-4712"})
    assert (other.status_code, other.json()["id"]) == (201, "INC-2")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({**DECLARATION, "severity": 7}, "severity: must be a severity from 1 (worst) to 4, got 7"),
        ({**DECLARATION, "severity": "high"}, "severity: must be a severity from 1 (worst) to 4, got 'high'"),
        ({k: v for k, v in DECLARATION.items() if k != "title"}, "title must be a non-empty string, got missing"),
        ({**DECLARATION, "service": "payments"}, "service 'payments' is not in the service catalog"),
        ({**DECLARATION, "titel": "typo"}, "unknown field 'titel'"),
        ({**DECLARATION, "source": "monitoring"}, "source must be one of customer, person, slo"),
        ({**DECLARATION, "components": ["Nope"]}, "component 'Nope' is not on the status page"),
        ({**DECLARATION, "detected_at": "2999-01-01T00:00:00Z"}, "detected_at is in the future"),
        ({**DECLARATION, "title": "x" * 201}, "title is 201 characters; the limit is 200"),
    ],
)
def test_bad_declarations_are_refused_with_the_field_named_and_nothing_stored(api, body, detail):
    answer = call("POST", f"{api}/incidents", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_input" and detail in answer.json()["detail"]
    assert call("GET", f"{api}/incidents").json() == {"incidents": []}


def test_incidents_are_listed_by_status_and_read_one_by_one(api):
    call("POST", f"{api}/incidents", json=DECLARATION)
    alert = call("POST", f"{api}/alerts", data=sample_bytes("59_test_action_metric_static_threshold.json"))
    # The alert targets test-RG, which is checkout's: it joins the incident the support desk declared.
    assert (alert.json()["outcome"], alert.json()["incident"]) == ("joined", "INC-1")
    call("POST", f"{api}/incidents", json={**DECLARATION, "service": "build-agents", "title": "Builds are slow"})
    listed = call("GET", f"{api}/incidents", params={"status": "open"}).json()["incidents"]
    assert [(i["id"], i["service"]) for i in listed] == [("INC-1", "checkout"), ("INC-2", "build-agents")]
    assert call("GET", f"{api}/incidents", params={"status": "resolved"}).json() == {"incidents": []}
    one = call("GET", f"{api}/incidents/inc-1").json()
    # The timeline runs in the order things happened: the alert fired (2025) before the customer called.
    assert (one["id"], recorded_kinds(one["timeline"])) == ("INC-1", ["alert.fired", "incident.declared"])
    assert one["timeline"][0]["data"]["links"][0]["label"] == "Alert in Azure portal"
    assert one["detected_at"] == "2025-04-15T18:17:12.851Z"  # when did we know: the earliest signal


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("incidents?status=sleeping", 400, "status 'sleeping' is unknown"),
        ("incidents/INC-99", 404, "there is no incident INC-99"),
        ("incidents/../../etc", 404, None),
        ("incidents/bobby-tables", 400, "is not an incident id"),
    ],
)
def test_bad_reads_get_clear_errors(api, path, status, detail):
    answer = call("GET", f"{api}/{path}")
    assert answer.status_code == status
    if detail:
        assert detail in answer.json()["detail"]


def test_the_incidents_api_needs_the_function_key(api):
    assert call("GET", f"{api}/incidents", key=None).status_code == 401
    assert call("POST", f"{api}/incidents", key="wrong", json=DECLARATION).status_code == 401
    assert call("GET", f"{api}/incidents").json() == {"incidents": []}


# --- Entra ID secure webhook on /api/alerts --------------------------------------------------------------------
@pytest.fixture
def entra_keys() -> Iterator[KeyServer]:
    """The tenant's key endpoint: a stand-in on a local socket."""
    keys = KeyServer([jwk(KEY_1, "key-1")], f"/{TENANT}/discovery/v2.0/keys")
    try:
        yield keys
    finally:
        keys.stop()


@pytest.fixture
def secure_api(api, entra_keys: KeyServer, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FIREBELL_ENTRA_TENANT_ID", TENANT)
    monkeypatch.setenv("FIREBELL_ENTRA_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("FIREBELL_ENTRA_JWKS_URL", entra_keys.url)
    context.reset()
    return api


def _token(**changes) -> str:
    now = utc_now()
    lifetime = {"iat": timestamp(now), "nbf": timestamp(now), "exp": timestamp(now + timedelta(minutes=30))}
    return mint(v1_claims(**{**lifetime, **changes}))


def test_with_the_secure_webhook_on_an_alert_needs_a_valid_entra_token(secure_api):
    body = sample_bytes("59_test_action_metric_static_threshold.json")
    missing = call("POST", f"{secure_api}/alerts", data=body)
    forged = call("POST", f"{secure_api}/alerts", data=body, headers={"Authorization": f"Bearer {_token(roles=[])}"})
    assert (missing.status_code, forged.status_code) == (401, 401)
    assert "ActionGroupsSecureWebhook" in forged.json()["detail"]
    assert call("GET", f"{secure_api}/incidents").json() == {"incidents": []}
    good = call("POST", f"{secure_api}/alerts", data=body, headers={"Authorization": f"Bearer {_token()}"})
    assert (good.status_code, good.json()["incident"]) == (202, "INC-1")
    assert call("GET", f"{secure_api}/health/details").json()["secure_webhook"] == "on"


def test_with_the_secure_webhook_on_alerts_still_get_202_when_the_key_endpoint_goes_down_after_warm_up(
    secure_api, entra_keys
):
    # The app keeps one key set per process: after the first alert it needs Entra ID only to refresh it, and then
    # (tests/integration/test_secure_webhook.py) serves the last good set through an outage.
    headers = {"Authorization": f"Bearer {_token()}"}
    first = call(
        "POST",
        f"{secure_api}/alerts",
        data=sample_bytes("59_test_action_metric_static_threshold.json"),
        headers=headers,
    )
    assert (first.status_code, first.json()["incident"]) == (202, "INC-1")
    entra_keys.stop()
    answers = [
        call("POST", f"{secure_api}/alerts", data=sample_bytes(name), headers=headers)
        for name in ("59_test_action_metric_static_threshold.json", "57_test_action_log_alert_v2.json")
    ]
    assert [answer.status_code for answer in answers] == [202, 202]
    assert entra_keys.requests == 1


def test_a_crafted_alert_id_equal_to_a_declaration_claim_does_not_hijack_the_declaration(api):
    # Someone who can post alerts names one after the claim a support-desk ticket's declaration will make.
    claim = "declared-" + hashlib.sha256(b"ticket-4711").hexdigest()[:32]
    document = json.loads(sample_bytes("59_test_action_metric_static_threshold.json"))
    document["data"]["essentials"]["alertId"] = f"/subscriptions/x/providers/Microsoft.AlertsManagement/alerts/{claim}"
    crafted = call("POST", f"{api}/alerts", data=json.dumps(document).encode())
    assert (crafted.status_code, crafted.json()["alert"], crafted.json()["incident"]) == (202, claim, "INC-1")
    declared = call("POST", f"{api}/incidents", json=DECLARATION, headers={"Idempotency-Key": "ticket-4711"})
    # The declaration opens its own incident, not the alert's; its retry finds it, not the alert's either.
    assert (declared.status_code, declared.json()["id"], declared.json()["title"]) == (
        201,
        "INC-2",
        DECLARATION["title"],
    )
    again = call("POST", f"{api}/incidents", json=DECLARATION, headers={"Idempotency-Key": "ticket-4711"})
    assert (again.status_code, again.json()["id"]) == (200, "INC-2")
    # And the alert, delivered again, is still the alert: a duplicate of INC-1.
    repeated = call("POST", f"{api}/alerts", data=json.dumps(document).encode()).json()
    assert (repeated["incident"], repeated["deduplicated"]) == ("INC-1", True)
