"""Verifying the HMAC a Teams outgoing webhook signs each request with."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.core.errors import ConfigurationError, Unauthorized
from shared.teams.signature import verify_signature
from tests.conftest import SAMPLES

# The published test vector (tests/fixtures/README.md, teams/).
TOKEN = "vqF0En+Z0ucuRTM/01o2GuhMH3hKKk/N2bOmlM31zaA="
SIGNATURE = "uv3Eoun1NKTu5wt0HBBeSzJ6djSt18pguvNl6mRRYDU="
BODY = (SAMPLES / "teams" / "outgoing_sample.json").read_bytes()
OTHER_TOKEN = base64.b64encode(bytes(range(32))).decode()
OTHER_SIGNATURE = base64.b64encode(hmac.new(bytes(range(32)), BODY, hashlib.sha256).digest()).decode()


def _flip_char(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def _assert_reveals_nothing(error: Exception) -> None:
    detail = str(error)
    for secret in (TOKEN, SIGNATURE, OTHER_TOKEN, OTHER_SIGNATURE):
        assert secret not in detail
        assert secret.rstrip("=")[:12] not in detail


def test_the_published_sample_verifies_with_its_token():
    assert len(BODY) == 1820
    assert verify_signature(BODY, f"HMAC {SIGNATURE}", TOKEN) is None


def test_the_scheme_is_case_insensitive_and_surrounding_spaces_are_tolerated():
    assert verify_signature(BODY, f"hmac {SIGNATURE}", TOKEN) is None
    assert verify_signature(BODY, f"  Hmac   {SIGNATURE} ", f" {TOKEN}\n") is None


@pytest.mark.parametrize("position", [0, 1, 900, len(BODY) - 2, len(BODY) - 1])
def test_a_body_with_one_flipped_byte_is_refused(position):
    forged = bytearray(BODY)
    forged[position] ^= 0x01
    with pytest.raises(Unauthorized, match="does not match") as raised:
        verify_signature(bytes(forged), f"HMAC {SIGNATURE}", TOKEN)
    _assert_reveals_nothing(raised.value)


@pytest.mark.parametrize("body", [BODY + b"\n", BODY[:-1], b"", BODY.replace(b"Hello", b"resolve INC-1")])
def test_a_body_with_bytes_added_removed_or_replaced_is_refused(body):
    with pytest.raises(Unauthorized, match="does not match"):
        verify_signature(body, f"HMAC {SIGNATURE}", TOKEN)


@pytest.mark.parametrize("index", [0, 10, 42])
def test_a_signature_with_one_flipped_character_is_refused(index):
    with pytest.raises(Unauthorized, match="does not match") as raised:
        verify_signature(BODY, f"HMAC {_flip_char(SIGNATURE, index)}", TOKEN)
    _assert_reveals_nothing(raised.value)


def test_a_signature_made_with_another_token_is_refused():
    assert verify_signature(BODY, f"HMAC {OTHER_SIGNATURE}", OTHER_TOKEN) is None
    with pytest.raises(Unauthorized, match="does not match") as raised:
        verify_signature(BODY, f"HMAC {OTHER_SIGNATURE}", TOKEN)
    _assert_reveals_nothing(raised.value)
    with pytest.raises(Unauthorized, match="does not match"):
        verify_signature(BODY, f"HMAC {SIGNATURE}", OTHER_TOKEN)


@pytest.mark.parametrize("authorization", [None, "", "   "])
def test_a_missing_authorization_header_is_refused(authorization):
    with pytest.raises(Unauthorized, match="missing"):
        verify_signature(BODY, authorization, TOKEN)


@pytest.mark.parametrize(
    "authorization", [f"Bearer {SIGNATURE}", f"HMAC-SHA256 {SIGNATURE}", SIGNATURE, f"Basic {SIGNATURE}"]
)
def test_another_authorization_scheme_is_refused(authorization):
    with pytest.raises(Unauthorized, match="HMAC scheme") as raised:
        verify_signature(BODY, authorization, TOKEN)
    _assert_reveals_nothing(raised.value)


@pytest.mark.parametrize(
    "value",
    ["", "not base64!", SIGNATURE.rstrip("="), SIGNATURE[:-2] + "é=", SIGNATURE[:20] + " " + SIGNATURE[20:]],
)
def test_a_signature_that_is_not_base64_is_refused(value):
    with pytest.raises(Unauthorized, match="not valid base64") as raised:
        verify_signature(BODY, f"HMAC {value}", TOKEN)
    _assert_reveals_nothing(raised.value)


@pytest.mark.parametrize("token", ["", "   "])
def test_an_unset_security_token_is_a_configuration_problem_not_the_callers(token):
    with pytest.raises(ConfigurationError, match="TEAMS_OUTGOING_WEBHOOK_TOKEN is not set") as raised:
        verify_signature(BODY, f"HMAC {SIGNATURE}", token)
    assert raised.value.code == "not_configured"


@pytest.mark.parametrize("token", ["not-base64!", TOKEN.rstrip("="), "=", "é"])
def test_a_security_token_that_is_not_base64_is_a_configuration_problem(token):
    with pytest.raises(ConfigurationError, match="must be the base64 security token") as raised:
        verify_signature(BODY, f"HMAC {SIGNATURE}", token)
    assert token not in str(raised.value)


def test_the_configuration_is_checked_before_the_request():
    with pytest.raises(ConfigurationError):
        verify_signature(BODY, None, "")


@given(authorization=st.none() | st.text(max_size=80) | st.text(max_size=60).map(lambda value: f"HMAC {value}"))
def test_any_other_authorization_header_is_refused_as_unauthorized(authorization):
    with pytest.raises(Unauthorized) as raised:
        verify_signature(BODY, authorization, TOKEN)
    _assert_reveals_nothing(raised.value)
