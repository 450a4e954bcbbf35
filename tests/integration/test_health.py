"""GET /api/health is anonymous and says one word from a cached check; everything else is behind the function key."""

from __future__ import annotations

import json

import requests

from functions import health

KEY = "health-test-key"


def test_anonymous_health_is_one_word_from_a_check_cached_30_seconds_and_details_need_the_key(
    firebell, monkeypatch, tmp_path
):
    monkeypatch.setenv("FIREBELL_FUNCTION_KEY", KEY)
    health.forget_verdict()
    anonymous = requests.get(f"{firebell}/health", timeout=30)
    assert (anonymous.status_code, anonymous.json()) == (200, {"status": "healthy"})
    for offered in ({}, {"x-functions-key": "wrong"}):
        assert requests.get(f"{firebell}/health/details", headers=offered, timeout=30).status_code == 401
    details = requests.get(f"{firebell}/health/details", headers={"x-functions-key": KEY}, timeout=30).json()
    assert (details["status"], details["storage"], details["configuration"]) == ("healthy", "reachable", "valid")
    assert {"oncall", "warnings", "poison_messages", "secure_webhook", "boards", "notifications"} <= set(details)
    assert details["unsent_changes"] == 0
    assert details["boards_service_hook"] == "not configured"  # BOARDS_SERVICE_HOOK_SECRET unset
    assert details["channels"] == "not configured"  # GRAPH_TEAM_ID unset
    monkeypatch.setenv("BOARDS_SERVICE_HOOK_SECRET", "s3cret")
    hooked = requests.get(f"{firebell}/health/details", headers={"x-functions-key": KEY}, timeout=30).json()
    assert hooked["boards_service_hook"] == "configured" and "s3cret" not in json.dumps(hooked)
    assert details["sms"] == "not configured"  # ACS_ENDPOINT, ACS_ACCESS_KEY, ACS_FROM_NUMBER unset
    for name, value in (
        ("ACS_ENDPOINT", "https://acs.example.com"),
        ("ACS_ACCESS_KEY", "a2V5"),
        ("ACS_FROM_NUMBER", "+18005550100"),
    ):
        monkeypatch.setenv(name, value)
    texting = requests.get(f"{firebell}/health/details", headers={"x-functions-key": KEY}, timeout=30).json()
    assert texting["sms"] == "configured" and "a2V5" not in json.dumps(texting)
    monkeypatch.delenv("ACS_ACCESS_KEY")  # neither a key nor a managed identity (no IDENTITY_ENDPOINT here)
    monkeypatch.delenv("IDENTITY_ENDPOINT", raising=False)
    keyless = requests.get(f"{firebell}/health/details", headers={"x-functions-key": KEY}, timeout=30).json()
    assert keyless["sms"] == "no credential: set ACS_ACCESS_KEY or give the function app a managed identity"
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://169.254.255.2:8081/msi/token")
    with_identity = requests.get(f"{firebell}/health/details", headers={"x-functions-key": KEY}, timeout=30).json()
    assert with_identity["sms"] == "configured (managed identity)"

    # The configuration breaks (no services.toml here): the details say so at once…
    monkeypatch.setenv("FIREBELL_CONFIG_DIR", str(tmp_path))
    broken = requests.get(f"{firebell}/health/details", headers={"x-functions-key": KEY}, timeout=30)
    assert (broken.status_code, broken.json()["configuration"]) == (503, "invalid")
    # …the anonymous verdict is the cached one until it is CACHE_SECONDS old, then it is checked again.
    assert requests.get(f"{firebell}/health", timeout=30).json() == {"status": "healthy"}
    assert health.CACHE_SECONDS == 30.0
    monkeypatch.setattr(health, "CACHE_SECONDS", 0.0)
    unhealthy = requests.get(f"{firebell}/health", timeout=30)
    assert (unhealthy.status_code, unhealthy.json()) == (503, {"status": "unhealthy"})
    health.forget_verdict()
