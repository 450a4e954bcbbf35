"""A `contacts` queue message names one personal rule step: SMS, voice or Teams activity. The Teams card (`teams`)
is the escalation's own post, never a queued step, so a message naming it (or anything else) is refused, not sent."""

from datetime import UTC, datetime

import pytest

from shared.contacts.event_grid import authenticate_delivery
from shared.contacts.ladder import ContactMessage
from shared.core.errors import ConfigurationError, InvalidInput

STEP = {
    "incident": "INC-7",
    "person": "Tim Jones",
    "page": "r01-s00",
    "urgency": "high",
    "index": 1,
    "due": "2026-12-02T10:00:00Z",
}


@pytest.mark.parametrize("channel", ["sms", "voice", "teams_activity"])
def test_a_personal_channel_is_read_back(channel):
    message = ContactMessage.from_json({**STEP, "channel": channel})
    assert (message.channel, message.index, message.due) == (channel, 1, datetime(2026, 12, 2, 10, tzinfo=UTC))


@pytest.mark.parametrize("channel", ["teams", "pager", ""])
def test_any_other_channel_is_refused(channel):
    with pytest.raises(InvalidInput) as refused:
        ContactMessage.from_json({**STEP, "channel": channel})
    assert refused.value.detail in (
        "a contacts message names a channel that is no personal rule step (sms, voice, teams_activity) or a "
        "malformed page",
        "a contacts message needs incident, person, page, urgency, channel and due",
    )


def test_a_bearer_token_without_a_source_of_signing_keys_is_a_configuration_error_not_an_assert():
    with pytest.raises(ConfigurationError) as refused:
        authenticate_delivery(None, "Bearer x.y.z", "", object(), None, datetime(2026, 12, 2, tzinfo=UTC))
    assert refused.value.detail == "Event Grid Entra ID delivery: no source of the tenant's signing keys"
