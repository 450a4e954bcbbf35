"""Azure Monitor secure webhook: Entra ID bearer tokens verified against a key set served over a real local socket.

Keys are generated here, tokens minted with PyJWT, and the tenant's JWKS endpoint is a stand-in `http.server` on
127.0.0.1 that counts its requests. NOW lies years after the wall clock, so every accepted token also proves that
time is judged by the `now` parameter, not by the host clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.warnings import InsecureKeyLengthWarning

from shared.azure_monitor.secure_webhook import SecureWebhookPolicy, verify_bearer
from shared.azure_monitor.signing_keys import (
    KEYS_UNAVAILABLE_DETAIL,
    UNKNOWN_KEY_DETAIL,
    UNKNOWN_KEY_RETRY_DETAIL,
    SigningKeys,
)
from shared.core.errors import ConfigurationError, DependencyUnavailable, FirebellError, Unauthorized
from tests.standins.entra_keys import KeyServer, jwk

TENANT = "3f6b1c2e-8d4a-4e5b-9c7d-1a2b3c4d5e6f"
OTHER_TENANT = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
CLIENT_ID = "0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"
AUDIENCE = "api://firebell-alerts"
V1_ISSUER = f"https://sts.windows.net/{TENANT}/"
V2_ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"
ACTION_GROUPS_APP = "461e8683-5575-4561-ac7f-899cc907d62a"  # the AzNS AAD Webhook app Azure Monitor uses
ROLE = "ActionGroupsSecureWebhook"
NOW = datetime(2031, 5, 4, 9, 30, tzinfo=UTC)

KEY_1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # the next key Entra ID rotates to
IMPOSTOR = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # an attacker's key, published nowhere
# Deliberately weak: Entra ID publishing it must still not make its signatures acceptable.
WEAK_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505

POLICY = SecureWebhookPolicy(
    tenant_id=TENANT, audience=AUDIENCE, jwks_url="http://127.0.0.1/unused", client_id=CLIENT_ID
)
DROP = object()  # marks a claim to leave out of a token


def timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


def v1_claims(**changes: Any) -> dict[str, Any]:
    """An app-only v1 access token as the action groups service principal receives it for our app."""
    claims = {
        "aud": AUDIENCE,
        "iss": V1_ISSUER,
        "iat": timestamp(NOW - timedelta(minutes=5)),
        "nbf": timestamp(NOW - timedelta(minutes=5)),
        "exp": timestamp(NOW + timedelta(minutes=55)),
        "appid": ACTION_GROUPS_APP,
        "idp": V1_ISSUER,
        "oid": "5b1c7f0e-2d3a-4c4b-9e8f-7a6b5c4d3e2f",
        "roles": [ROLE],
        "sub": "5b1c7f0e-2d3a-4c4b-9e8f-7a6b5c4d3e2f",
        "tid": TENANT,
        "ver": "1.0",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not DROP}


def v2_claims(**changes: Any) -> dict[str, Any]:
    claims = v1_claims(aud=CLIENT_ID, iss=V2_ISSUER, appid=DROP, idp=DROP, ver="2.0", azp=ACTION_GROUPS_APP)
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not DROP}


def mint(claims: dict[str, Any], key: rsa.RSAPrivateKey = KEY_1, kid: str | None = "key-1") -> str:
    headers = {"kid": kid} if kid is not None else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # WEAK_KEY is weak on purpose
        return jwt.encode(claims, key, algorithm="RS256", headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge_hs256_with_public_key(claims: dict[str, Any]) -> str:
    """The key-confusion attack: an HMAC 'signed' with the public key PEM, which every attacker can download.

    Built by hand because PyJWT itself refuses a PEM as an HMAC secret.
    """
    pem = KEY_1.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "key-1"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signature = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def with_payload_of(token: str, other: str) -> str:
    """`token`'s header and signature around `other`'s payload: a tampered token."""
    header, _, signature = token.split(".")
    return f"{header}.{other.split('.')[1]}.{signature}"


def keys_in_memory(*published: tuple[str, Any]) -> Callable[[str], Any]:
    """A key lookup without HTTP, for the checks that do not depend on fetching."""
    by_kid = {kid: key for kid, key in published}

    def lookup(kid: str) -> Any:
        if kid not in by_kid:
            raise Unauthorized(UNKNOWN_KEY_DETAIL)
        return by_kid[kid]

    return lookup


ENTRA = keys_in_memory(("key-1", KEY_1.public_key()), ("weak", WEAK_KEY.public_key()))


def rejection(authorization: str | None, signing_key_for: Callable[[str], Any] = ENTRA) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        verify_bearer(authorization, POLICY, signing_key_for, NOW)
    return caught.value


# --- the stand-in for https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys ---------------------------


class FakeClock:
    """Monotonic seconds the test moves by hand: cache expiry, the refetch rate limit, the last good set's bound."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server = KeyServer([jwk(KEY_1, "key-1"), jwk(WEAK_KEY, "weak")], f"/{TENANT}/discovery/v2.0/keys")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def signing_keys(key_server: KeyServer, clock: FakeClock) -> SigningKeys:
    return SigningKeys(key_server.url, refresh_interval_seconds=60, timeout_seconds=2, clock=clock)


def verify(token: str, signing_keys: SigningKeys) -> dict[str, Any]:
    return verify_bearer(f"Bearer {token}", POLICY, signing_keys.key_for, NOW)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- accepted tokens -------------------------------------------------------------------------------------------


def test_a_v1_token_from_the_action_groups_service_is_accepted_and_its_claims_returned(signing_keys, key_server):
    claims = v1_claims()
    assert verify(mint(claims), signing_keys) == claims
    assert key_server.requests == 1


def test_a_v2_token_whose_audience_is_the_client_id_is_accepted(signing_keys):
    claims = v2_claims()
    assert verify(mint(claims), signing_keys) == claims


def test_a_v2_token_for_the_application_id_uri_is_accepted():
    claims = v2_claims(aud=AUDIENCE)
    assert verify_bearer(f"Bearer {mint(claims)}", POLICY, ENTRA, NOW) == claims


def test_the_bearer_scheme_is_case_insensitive_and_surrounding_spaces_are_ignored():
    claims = v1_claims()
    assert verify_bearer(f"  bearer   {mint(claims)} ", POLICY, ENTRA, NOW) == claims


def test_a_clock_skew_of_up_to_sixty_seconds_is_tolerated():
    barely_expired = v1_claims(exp=timestamp(NOW - timedelta(seconds=59)))
    barely_early = v1_claims(nbf=timestamp(NOW + timedelta(seconds=59)))
    assert verify_bearer(f"Bearer {mint(barely_expired)}", POLICY, ENTRA, NOW) == barely_expired
    assert verify_bearer(f"Bearer {mint(barely_early)}", POLICY, ENTRA, NOW) == barely_early


# --- rejected tokens: each check names itself, never the token --------------------------------------------------

REJECTIONS: list[tuple[str, Callable[[], str | None], str]] = [
    (
        "no header",
        lambda: None,
        "Authorization header is missing; a secure webhook sends 'Bearer <token>'",
    ),
    ("empty header", lambda: "  ", "Authorization header is missing; a secure webhook sends 'Bearer <token>'"),
    ("basic scheme", lambda: "Basic " + b64url(b"user:password"), "Authorization header is not 'Bearer <token>'"),
    ("scheme only", lambda: "Bearer", "Authorization header is not 'Bearer <token>'"),
    ("token without scheme", lambda: mint(v1_claims()), "Authorization header is not 'Bearer <token>'"),
    (
        "two tokens",
        lambda: f"Bearer {mint(v1_claims())} {mint(v1_claims())}",
        "Authorization header is not 'Bearer <token>'",
    ),
    ("not a JWT", lambda: "Bearer not-a-jwt", "bearer token is not a well-formed JWT"),
    ("garbage segments", lambda: "Bearer a.b.c", "bearer token is not a well-formed JWT"),
    (
        "alg none",
        lambda: "Bearer " + jwt.encode(v1_claims(), None, algorithm="none", headers={"kid": "key-1"}),
        "token algorithm 'none' is not accepted; Entra ID signs with RS256",
    ),
    (
        "HS256 signed with the public key",
        lambda: "Bearer " + forge_hs256_with_public_key(v1_claims()),
        "token algorithm 'HS256' is not accepted; Entra ID signs with RS256",
    ),
    (
        "RS512",
        lambda: "Bearer " + jwt.encode(v1_claims(), KEY_1, algorithm="RS512", headers={"kid": "key-1"}),
        "token algorithm 'RS512' is not accepted; Entra ID signs with RS256",
    ),
    ("no kid", lambda: "Bearer " + mint(v1_claims(), kid=None), "token header has no key id (kid)"),
    ("unknown kid", lambda: "Bearer " + mint(v1_claims(), KEY_2, kid="key-2"), UNKNOWN_KEY_DETAIL),
    (
        "impostor key under a published kid",
        lambda: "Bearer " + mint(v1_claims(), IMPOSTOR, kid="key-1"),
        "token signature does not verify against the Entra ID signing key",
    ),
    (
        "tampered payload",
        lambda: "Bearer " + with_payload_of(mint(v1_claims(roles=[])), mint(v1_claims(), IMPOSTOR)),
        "token signature does not verify against the Entra ID signing key",
    ),
    (
        "key shorter than 2048 bits",
        lambda: "Bearer " + mint(v1_claims(), WEAK_KEY, kid="weak"),
        "token signing key is not a usable RSA key of 2048 bits or more",
    ),
    (
        "expired beyond the skew",
        lambda: "Bearer " + mint(v1_claims(exp=timestamp(NOW - timedelta(seconds=61)))),
        "token has expired",
    ),
    (
        "not valid for another minute",
        lambda: "Bearer " + mint(v1_claims(nbf=timestamp(NOW + timedelta(seconds=61)))),
        "token is not valid yet (nbf is in the future)",
    ),
    ("no expiry", lambda: "Bearer " + mint(v1_claims(exp=DROP)), "token has no 'exp' claim"),
    (
        "expiry not a number",
        lambda: "Bearer " + mint(v1_claims(exp="tomorrow")),
        "token claim 'exp' is not a NumericDate",
    ),
    (
        "another tenant (v1)",
        lambda: "Bearer " + mint(v1_claims(iss=f"https://sts.windows.net/{OTHER_TENANT}/")),
        "token issuer is not the configured Entra ID tenant",
    ),
    (
        "another tenant (v2)",
        lambda: "Bearer " + mint(v2_claims(iss=f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0")),
        "token issuer is not the configured Entra ID tenant",
    ),
    (
        "issuer of the multi-tenant endpoint",
        lambda: "Bearer " + mint(v2_claims(iss="https://login.microsoftonline.com/common/v2.0")),
        "token issuer is not the configured Entra ID tenant",
    ),
    ("no issuer", lambda: "Bearer " + mint(v1_claims(iss=DROP)), "token has no 'iss' claim"),
    (
        "another application",
        lambda: "Bearer " + mint(v1_claims(aud="api://someone-else")),
        "token audience is not this application",
    ),
    (
        "Microsoft Graph audience",
        lambda: "Bearer " + mint(v2_claims(aud="00000003-0000-0000-c000-000000000000")),
        "token audience is not this application",
    ),
    ("no audience", lambda: "Bearer " + mint(v1_claims(aud=DROP)), "token has no 'aud' claim"),
    ("no roles", lambda: "Bearer " + mint(v1_claims(roles=DROP)), "token lacks the ActionGroupsSecureWebhook app role"),
    (
        "another role",
        lambda: "Bearer " + mint(v1_claims(roles=["Alerts.Read"])),
        "token lacks the ActionGroupsSecureWebhook app role",
    ),
    (
        "role as a longer string",
        lambda: "Bearer " + mint(v1_claims(roles="ActionGroupsSecureWebhookAdmin")),
        "token lacks the ActionGroupsSecureWebhook app role",
    ),
]


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [pytest.param(make, detail, id=name) for name, make, detail in REJECTIONS],
)
def test_every_failed_check_is_unauthorized_with_its_own_detail(authorization, detail, signing_keys):
    header = authorization()
    error = rejection(header, signing_keys.key_for)
    assert (error.code, error.detail) == ("unauthorized", detail)
    if header and header.count(".") == 2:  # a JWT was sent: neither it nor its signature is quoted back
        token = header.split()[-1]
        assert token not in str(error)
        assert len(token.split(".")[-1]) < 8 or token.split(".")[-1] not in str(error)


def test_the_same_checks_hold_with_an_in_memory_key_lookup():
    # The core does not depend on the adapter: the table gives the same answers without HTTP.
    for name, make, detail in REJECTIONS:
        assert rejection(make()).detail == detail, name


def test_an_attacker_supplied_algorithm_name_is_not_echoed():
    header = b64url(json.dumps({"alg": "<script>alert(1)</script>", "kid": "key-1"}).encode())
    token = f"{header}.{b64url(json.dumps(v1_claims()).encode())}.{b64url(b'x')}"
    assert rejection(f"Bearer {token}").detail == "token algorithm is not accepted; Entra ID signs with RS256"


def test_a_v2_token_for_the_client_id_is_rejected_when_no_client_id_is_configured():
    policy = SecureWebhookPolicy(tenant_id=TENANT, audience=AUDIENCE, jwks_url="http://127.0.0.1/unused")
    with pytest.raises(Unauthorized) as caught:
        verify_bearer(f"Bearer {mint(v2_claims())}", policy, ENTRA, NOW)
    assert caught.value.detail == "token audience is not this application"


def test_a_naive_now_is_a_programming_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_bearer(f"Bearer {mint(v1_claims())}", POLICY, ENTRA, NOW.replace(tzinfo=None))


# --- the signing-key adapter over HTTP ---------------------------------------------------------------------------


def unavailable(token: str, keys: SigningKeys) -> DependencyUnavailable:
    with pytest.raises(DependencyUnavailable) as caught:
        verify(token, keys)
    return caught.value


def verify_concurrently(tokens: list[str], keys: SigningKeys) -> list[dict[str, Any] | FirebellError]:
    """Each token verified on its own thread, all at once; each result is the claims or the typed error."""

    def attempt(token: str) -> dict[str, Any] | FirebellError:
        try:
            return verify(token, keys)
        except FirebellError as error:
            return error

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        return list(pool.map(attempt, tokens))


def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait for another thread to get somewhere; the deadline only keeps a broken build from hanging the suite."""
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.005)


def test_the_key_set_is_fetched_once_and_served_from_cache(signing_keys, key_server):
    for _ in range(3):
        verify(mint(v1_claims()), signing_keys)
    assert key_server.requests == 1
    key_server.stop()  # within the cache lifespan the key server is not needed at all
    assert verify(mint(v2_claims()), signing_keys) == v2_claims()


def test_an_unknown_kid_is_unauthorized_after_its_refetch_and_retryable_within_the_rate_window(
    signing_keys, key_server, clock
):
    verify(mint(v1_claims()), signing_keys)
    assert key_server.requests == 1
    forged = mint(v1_claims(), IMPOSTOR, kid="forged")
    # Refetched, and the fresh set lacks it: 401.
    assert rejection(f"Bearer {forged}", signing_keys.key_for).detail == UNKNOWN_KEY_DETAIL
    assert key_server.requests == 2
    # Within the window no refetch may say so: 503, which Azure Monitor retries; Entra ID is not asked again.
    for _ in range(4):
        assert unavailable(forged, signing_keys).detail == UNKNOWN_KEY_RETRY_DETAIL
    clock.advance(59)
    assert unavailable(forged, signing_keys).detail == UNKNOWN_KEY_RETRY_DETAIL
    assert key_server.requests == 2
    clock.advance(2)
    assert rejection(f"Bearer {forged}", signing_keys.key_for).detail == UNKNOWN_KEY_DETAIL
    assert key_server.requests == 3


def test_a_token_signed_with_a_key_published_after_the_last_refetch_is_retried_then_verifies(
    signing_keys, key_server, clock
):
    verify(mint(v1_claims()), signing_keys)
    rejection(f"Bearer {mint(v1_claims(), IMPOSTOR, kid='forged')}", signing_keys.key_for)  # spends the refetch
    key_server.keys = [jwk(KEY_1, "key-1"), jwk(KEY_2, "key-2")]  # Entra ID rotates
    rotated = mint(v1_claims(), KEY_2, kid="key-2")
    assert unavailable(rotated, signing_keys).detail == UNKNOWN_KEY_RETRY_DETAIL  # not a 401: the alert is not lost
    clock.advance(60)
    assert verify(rotated, signing_keys) == v1_claims()
    assert key_server.requests == 3


def test_concurrent_requests_with_forged_kids_cause_one_refetch(signing_keys, key_server):
    verify(mint(v1_claims()), signing_keys)
    assert rejection(f"Bearer {mint(v1_claims(), IMPOSTOR, kid='forged-0')}", signing_keys.key_for)
    forged = [mint(v1_claims(), IMPOSTOR, kid=f"forged-{n}") for n in range(1, 17)]
    outcomes = verify_concurrently(forged, signing_keys)
    assert [(type(outcome), outcome.detail) for outcome in outcomes] == [
        (DependencyUnavailable, UNKNOWN_KEY_RETRY_DETAIL)
    ] * 16
    assert key_server.requests == 2  # the first fetch and one refetch, not one per request


def test_a_rotated_key_is_picked_up_by_the_refetch_on_its_unknown_kid(signing_keys, key_server):
    verify(mint(v1_claims()), signing_keys)
    key_server.keys = [jwk(KEY_1, "key-1"), jwk(KEY_2, "key-2")]
    claims = v1_claims()
    assert verify(mint(claims, KEY_2, kid="key-2"), signing_keys) == claims
    assert key_server.requests == 2
    assert verify(mint(claims, KEY_2, kid="key-2"), signing_keys) == claims
    assert key_server.requests == 2


def test_a_key_the_tenant_withdraws_stops_verifying_once_the_cached_set_expires(signing_keys, key_server, clock):
    verify(mint(v1_claims()), signing_keys)
    key_server.keys = [jwk(KEY_2, "key-2")]
    clock.advance(3599)
    verify(mint(v1_claims()), signing_keys)  # still cached
    assert key_server.requests == 1
    clock.advance(1)
    assert rejection(f"Bearer {mint(v1_claims())}", signing_keys.key_for).detail == UNKNOWN_KEY_DETAIL
    assert key_server.requests == 2  # the expired set, refetched once: the fresh set settles it


def test_only_rsa_signature_keys_can_verify_a_token(signing_keys, key_server):
    # A symmetric key or an encryption key published under the token's kid must not be used.
    secret = b64url(b"0" * 32)
    key_server.keys = [
        {"kty": "oct", "kid": "key-1", "k": secret},
        {**jwk(KEY_1, "key-1"), "use": "enc"},
        jwk(KEY_2, "key-2"),
    ]
    assert rejection(f"Bearer {mint(v1_claims())}", signing_keys.key_for).detail == UNKNOWN_KEY_DETAIL


def test_an_unreachable_key_server_is_a_retryable_error_not_a_401():
    keys = SigningKeys(f"http://127.0.0.1:{closed_port()}/{TENANT}/discovery/v2.0/keys", timeout_seconds=2)
    with pytest.raises(DependencyUnavailable) as caught:
        verify(mint(v1_claims()), keys)
    assert (caught.value.code, caught.value.detail) == ("dependency_unavailable", KEYS_UNAVAILABLE_DETAIL)


def test_a_key_server_that_does_not_answer_in_time_is_a_retryable_error():
    with socket.socket() as silent:  # accepts connections (kernel backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        keys = SigningKeys(f"http://127.0.0.1:{silent.getsockname()[1]}/keys", timeout_seconds=0.3)
        with pytest.raises(DependencyUnavailable) as caught:
            verify(mint(v1_claims()), keys)
    assert caught.value.detail == KEYS_UNAVAILABLE_DETAIL


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(500, b'{"error": "server_error"}', id="server error"),
        pytest.param(200, b"<html>maintenance</html>", id="not JSON"),
        pytest.param(200, b'["not", "an", "object"]', id="not an object"),
        pytest.param(200, b'{"keys": []}', id="no keys"),
        pytest.param(200, b'{"keys": [{"kty": "RSA", "kid": "key-1", "n": "!", "e": "!"}]}', id="unusable key"),
        pytest.param(200, b'{"keys": [{"kty": "oct", "kid": "key-1", "k": "MDAwMA"}]}', id="no RSA signature key"),
    ],
)
def test_a_failing_or_broken_key_server_is_a_retryable_error(signing_keys, key_server, status, body):
    key_server.status, key_server.body = status, body
    with pytest.raises(DependencyUnavailable) as caught:
        verify(mint(v1_claims()), signing_keys)
    assert caught.value.detail == KEYS_UNAVAILABLE_DETAIL
    assert key_server.requests == 1


def test_a_broken_answer_after_expiry_does_not_replace_the_last_good_set(signing_keys, key_server, clock):
    verify(mint(v1_claims()), signing_keys)
    key_server.body = b'{"keys": []}'
    clock.advance(3600)
    assert verify(mint(v1_claims()), signing_keys) == v1_claims()
    assert key_server.requests == 2


def test_a_failed_refetch_for_an_unknown_kid_is_retryable_and_still_rate_limited(signing_keys, key_server, clock):
    verify(mint(v1_claims()), signing_keys)
    key_server.status = 503
    rotated = mint(v1_claims(), KEY_2, kid="key-2")
    assert unavailable(rotated, signing_keys).detail == KEYS_UNAVAILABLE_DETAIL
    assert unavailable(rotated, signing_keys).detail == UNKNOWN_KEY_RETRY_DETAIL  # was a 401, and the alert lost
    assert key_server.requests == 2
    key_server.status, key_server.keys = 200, [jwk(KEY_1, "key-1"), jwk(KEY_2, "key-2")]
    clock.advance(60)
    assert verify(rotated, signing_keys) == v1_claims()
    assert key_server.requests == 3


# --- the signing keys during an Entra ID outage: the last good set, one fetch in flight ---------------------------

OUTAGES = {
    "answering 500": lambda server: setattr(server, "status", 500),
    "not answering within the timeout": KeyServer.hold,
    "stopped": KeyServer.stop,
}


@pytest.mark.parametrize("outage", list(OUTAGES))
def test_with_the_key_endpoint_down_after_expiry_concurrent_requests_verify_with_the_last_good_set(
    key_server, clock, caplog, outage
):
    keys = SigningKeys(key_server.url, timeout_seconds=0.5, clock=clock)
    verify(mint(v1_claims()), keys)
    OUTAGES[outage](key_server)
    clock.advance(3600)  # the cached set expires during the outage
    claims = [v1_claims(oid=f"00000000-0000-4000-8000-{n:012d}") for n in range(16)]
    tokens = [mint(each) for each in claims]
    with caplog.at_level("WARNING", logger="firebell.signing_keys"):
        assert verify_concurrently(tokens, keys) == claims
    # One refresh attempt for sixteen requests (a stopped server cannot count it): nobody queued behind a timeout.
    attempts = 1 if outage == "stopped" else 2
    eventually(lambda: key_server.requests >= attempts, "the refresh attempt reached the server")
    assert key_server.requests == attempts
    assert "serving the last good key set, fetched 3600 s ago, for up to 82800 s more" in caplog.text
    clock.advance(9)  # a failed fetch is not retried for 10 s; the last good set answers meanwhile
    assert verify_concurrently(tokens, keys) == claims
    assert key_server.requests == attempts
    clock.advance(1)
    assert verify(tokens[0], keys) == claims[0]
    if outage != "stopped":
        eventually(lambda: key_server.requests >= 3, "the next attempt reached the server")
        assert key_server.requests == 3


def test_requests_with_a_usable_last_good_set_never_wait_for_the_refresh_in_flight(key_server, clock):
    keys = SigningKeys(key_server.url, timeout_seconds=10, clock=clock)
    verify(mint(v1_claims()), keys)
    key_server.hold()  # the refresh reaches Entra ID and hangs there until released
    clock.advance(3600)
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = [pool.submit(verify, mint(v1_claims()), keys) for _ in range(16)]
        # Fifteen answer while the sixteenth is still fetching: the fetch holds no lock anybody else needs.
        eventually(lambda: sum(answer.done() for answer in answers) >= 15, "15 answers during the refresh")
        assert (sum(answer.done() for answer in answers), key_server.requests) == (15, 2)
        key_server.release()
        assert [answer.result() for answer in answers] == [v1_claims()] * 16
    assert key_server.requests == 2


def test_concurrent_requests_after_expiry_cause_exactly_one_fetch(key_server, clock):
    keys = SigningKeys(key_server.url, timeout_seconds=10, clock=clock)
    verify(mint(v1_claims()), keys)
    key_server.keys = [jwk(KEY_2, "key-2")]  # Entra ID rotated while the set was cached
    key_server.hold()
    clock.advance(3600)
    rotated = [mint(v1_claims(), KEY_2, kid="key-2") for _ in range(16)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = [pool.submit(verify, token, keys) for token in rotated]
        eventually(lambda: key_server.requests >= 2, "the refresh reached the server")
        key_server.release()
        assert [answer.result() for answer in answers] == [v1_claims()] * 16
    assert key_server.requests == 2


def test_concurrent_requests_on_a_cold_cache_share_one_fetch(key_server, clock):
    keys = SigningKeys(key_server.url, timeout_seconds=10, clock=clock)
    key_server.hold()
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = [pool.submit(verify, mint(v1_claims()), keys) for _ in range(16)]
        eventually(lambda: key_server.requests >= 1, "the first fetch reached the server")
        key_server.release()
        assert [answer.result() for answer in answers] == [v1_claims()] * 16
    assert key_server.requests == 1


def test_with_no_key_set_yet_and_the_endpoint_hanging_concurrent_requests_share_one_timeout(key_server, clock):
    keys = SigningKeys(key_server.url, timeout_seconds=0.5, clock=clock)
    key_server.hold()  # never released: every fetch times out
    outcomes = verify_concurrently([mint(v1_claims()) for _ in range(16)], keys)
    assert [(type(outcome), outcome.detail) for outcome in outcomes] == [
        (DependencyUnavailable, KEYS_UNAVAILABLE_DETAIL)
    ] * 16
    eventually(lambda: key_server.requests >= 1, "the fetch reached the server")
    assert key_server.requests == 1  # not sixteen timeouts one after another


@pytest.mark.parametrize(
    ("settings", "bound"),
    [pytest.param({}, 24 * 3600, id="24 h by default"), pytest.param({"max_age_seconds": 7200}, 7200, id="2 h")],
)
def test_beyond_its_bound_the_last_good_set_is_not_served_and_alerts_get_503(
    key_server, clock, caplog, settings, bound
):
    keys = SigningKeys(key_server.url, timeout_seconds=2, clock=clock, **settings)
    verify(mint(v1_claims()), keys)
    key_server.status = 500
    clock.advance(bound - 1)
    assert verify(mint(v1_claims()), keys) == v1_claims()  # fetch failed, last good set served
    assert key_server.requests == 2
    clock.advance(1)
    assert unavailable(mint(v1_claims()), keys).detail == KEYS_UNAVAILABLE_DETAIL  # no fetch for 10 s after a failure
    assert key_server.requests == 2
    clock.advance(10)
    with caplog.at_level("WARNING", logger="firebell.signing_keys"):
        assert unavailable(mint(v1_claims()), keys).detail == KEYS_UNAVAILABLE_DETAIL
    assert key_server.requests == 3
    assert f"no key set fetched within {bound} s; secure-webhook alerts get 503" in caplog.text
    key_server.status = 200  # Entra ID is back
    clock.advance(10)
    assert verify(mint(v1_claims()), keys) == v1_claims()
    assert key_server.requests == 4


def test_the_bound_cannot_be_shorter_than_the_cache_lifetime():
    with pytest.raises(ValueError, match="max_age_seconds must be at least cache_seconds"):
        SigningKeys("http://127.0.0.1/keys", cache_seconds=3600, max_age_seconds=60)


# --- settings ------------------------------------------------------------------------------------------------------


def test_the_feature_is_off_when_neither_tenant_nor_audience_is_set():
    assert SecureWebhookPolicy.from_environment({}) is None
    assert (
        SecureWebhookPolicy.from_environment({"FIREBELL_ENTRA_TENANT_ID": "", "FIREBELL_ENTRA_AUDIENCE": " "}) is None
    )


def test_tenant_and_audience_make_a_policy_with_the_entra_key_set():
    policy = SecureWebhookPolicy.from_environment(
        {"FIREBELL_ENTRA_TENANT_ID": f" {TENANT.upper()} ", "FIREBELL_ENTRA_AUDIENCE": AUDIENCE}
    )
    assert policy == SecureWebhookPolicy(
        tenant_id=TENANT,
        audience=AUDIENCE,
        jwks_url=f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys",
        client_id=None,
    )
    assert policy.issuers == (V1_ISSUER, V2_ISSUER)
    assert policy.audiences == (AUDIENCE,)


@pytest.mark.parametrize(
    "jwks_url",
    [
        "https://login.microsoftonline.com/common/discovery/v2.0/keys",
        "http://127.0.0.1:8123/keys",
        "http://localhost/keys",
    ],
)
def test_a_custom_key_set_url_is_https_or_loopback(jwks_url):
    policy = SecureWebhookPolicy.from_environment(
        {
            "FIREBELL_ENTRA_TENANT_ID": TENANT,
            "FIREBELL_ENTRA_AUDIENCE": AUDIENCE,
            "FIREBELL_ENTRA_CLIENT_ID": CLIENT_ID,
            "FIREBELL_ENTRA_JWKS_URL": jwks_url,
        }
    )
    assert policy is not None
    assert (policy.jwks_url, policy.client_id, policy.audiences) == (jwks_url, CLIENT_ID, (AUDIENCE, CLIENT_ID))


NOT_HTTPS = "secure webhook: FIREBELL_ENTRA_JWKS_URL must be an https URL (plain http only for 127.0.0.1 or localhost)"


@pytest.mark.parametrize(
    ("environ", "detail"),
    [
        pytest.param(
            {"FIREBELL_ENTRA_TENANT_ID": TENANT},
            "secure webhook: FIREBELL_ENTRA_AUDIENCE is not set; "
            "set both FIREBELL_ENTRA_TENANT_ID and FIREBELL_ENTRA_AUDIENCE, or neither",
            id="tenant only",
        ),
        pytest.param(
            {"FIREBELL_ENTRA_AUDIENCE": AUDIENCE, "FIREBELL_ENTRA_TENANT_ID": ""},
            "secure webhook: FIREBELL_ENTRA_TENANT_ID is not set; "
            "set both FIREBELL_ENTRA_TENANT_ID and FIREBELL_ENTRA_AUDIENCE, or neither",
            id="audience only",
        ),
        pytest.param(
            {"FIREBELL_ENTRA_TENANT_ID": "contoso.onmicrosoft.com", "FIREBELL_ENTRA_AUDIENCE": AUDIENCE},
            "secure webhook: FIREBELL_ENTRA_TENANT_ID must be the directory (tenant) id, a GUID",
            id="tenant domain name",
        ),
        pytest.param(
            {
                "FIREBELL_ENTRA_TENANT_ID": TENANT,
                "FIREBELL_ENTRA_AUDIENCE": AUDIENCE,
                "FIREBELL_ENTRA_CLIENT_ID": "app",
            },
            "secure webhook: FIREBELL_ENTRA_CLIENT_ID must be the application (client) id, a GUID",
            id="client id not a GUID",
        ),
        *(
            pytest.param(
                {
                    "FIREBELL_ENTRA_TENANT_ID": TENANT,
                    "FIREBELL_ENTRA_AUDIENCE": AUDIENCE,
                    "FIREBELL_ENTRA_JWKS_URL": url,
                },
                NOT_HTTPS,
                id=url,
            )
            for url in (
                "http://login.microsoftonline.com/common/discovery/v2.0/keys",
                "http://10.0.0.5/keys",
                "http://localhost.evil.example/keys",
                "ftp://127.0.0.1/keys",
                "file:///etc/keys.json",
                "https:///keys",
                "keys.json",
            )
        ),
    ],
)
def test_half_or_wrong_settings_are_a_configuration_error(environ, detail):
    with pytest.raises(ConfigurationError) as caught:
        SecureWebhookPolicy.from_environment(environ)
    assert (caught.value.code, caught.value.detail) == ("configuration_invalid", detail)
