"""Which Graph change notifications Firebell believes: its own clientState, a live subscription."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.channels.change_notifications import Notified, believed, validation_token
from shared.core.errors import InvalidInput, Unauthorized

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
SECRET = "client-state-secret"


def note(client_state=SECRET, expires=NOW + timedelta(minutes=30), channel="19:abc@thread.tacv2"):
    return {
        "subscriptionId": "s-1",
        "subscriptionExpirationDateTime": expires.isoformat() if isinstance(expires, datetime) else expires,
        "changeType": "created",
        "clientState": client_state,
        "resource": f"teams('t-1')/channels('{channel}')/messages('1733')",
    }


def test_a_notification_with_firebells_client_state_names_its_channel():
    assert believed({"value": [note()]}, SECRET, NOW) == [Notified("s-1", "19:abc@thread.tacv2")]


@pytest.mark.parametrize(
    "bad",
    [
        note(client_state="guess"),
        note(client_state=None),
        note(client_state=SECRET + "x"),
        note(expires=NOW - timedelta(seconds=1)),
        note(expires="not a time"),
    ],
)
def test_a_forged_or_stale_notification_refuses_the_whole_request(bad):
    with pytest.raises(Unauthorized):
        believed({"value": [note(), bad]}, SECRET, NOW)


def test_without_a_secret_nothing_is_believed_and_unreadable_bodies_are_invalid():
    with pytest.raises(Unauthorized):
        believed({"value": [note(client_state="")]}, "", NOW)
    for body in ({}, {"value": []}, {"value": ["x"]}, [], {"value": [{**note(), "resource": "users('x')"}]}):
        with pytest.raises(InvalidInput):
            believed(body, SECRET, NOW)


def test_the_validation_token_is_echoed_as_given_within_bounds():
    assert validation_token(None) is None
    assert validation_token("Validation: <&> token") == "Validation: <&> token"
    for bad in ("", "x" * 1025):
        with pytest.raises(InvalidInput):
            validation_token(bad)
