"""One-time acknowledgement links: bound to incident and person, signed, expiring; SMS replies read as `ACK 7`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.contacts import ack_links, event_grid
from shared.contacts.ladder import acked_incident
from shared.core.errors import InvalidInput, Unauthorized

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
KEY = b"link key"


def test_a_link_carries_its_incident_and_person_until_it_expires():
    token = ack_links.issue("INC-7", "Tim Jones", NOW, KEY)
    grant = ack_links.verify(token, NOW + timedelta(hours=23), KEY)
    assert (grant.incident, grant.person, grant.expires) == ("INC-7", "Tim Jones", NOW + timedelta(hours=24))
    with pytest.raises(Unauthorized, match="expired"):
        ack_links.verify(token, NOW + timedelta(hours=24), KEY)
    assert ack_links.issue("INC-7", "Tim Jones", NOW, KEY) != token  # each link its own nonce


@pytest.mark.parametrize("change", ["payload", "signature", "key"])
def test_a_changed_link_is_refused(change):
    token = ack_links.issue("INC-7", "Tim Jones", NOW, KEY)
    payload, signature = token.split(".")
    key = KEY
    if change == "payload":  # the same link for another incident
        other = ack_links.issue("INC-8", "Tim Jones", NOW, KEY).split(".")[0]
        token = f"{other}.{signature}"
    elif change == "signature":
        token = f"{payload}.{signature[::-1]}"
    else:
        key = b"another key"
    with pytest.raises(Unauthorized, match="not valid"):
        ack_links.verify(token, NOW, key)


def test_links_are_refused_without_a_key():
    with pytest.raises(Unauthorized, match="FIREBELL_ACK_LINK_KEY"):
        ack_links.verify(ack_links.issue("INC-7", "Tim Jones", NOW, KEY), NOW, b"")


@pytest.mark.parametrize(
    ("text", "incident"),
    [
        ("ACK 7", "INC-7"),
        ("ack 7", "INC-7"),
        (" Ack INC-12. ", "INC-12"),
        ("ACK inc7", "INC-7"),
        ("ack", None),
        ("ACK 7 8", None),
        ("STOP", None),
        ("ACKNOWLEDGE 7", None),
        ("", None),
    ],
)
def test_an_sms_reply_names_the_incident_it_acknowledges(text, incident):
    assert acked_incident(text) == incident


def test_event_grid_deliveries_need_the_secret_and_a_readable_batch():
    event_grid.authenticate("s3cret", "s3cret")
    for given in (None, "", "s3cret ", "S3CRET"):
        with pytest.raises(Unauthorized):
            event_grid.authenticate(given, "s3cret")
    with pytest.raises(Unauthorized, match="not configured"):
        event_grid.authenticate("anything", "")
    for bad in ([], "x", [{"eventType": 1}], [{}] * 101):
        with pytest.raises(InvalidInput):
            event_grid.events(bad)


def test_a_page_fits_two_sms_segments_with_its_link_whole():
    from types import SimpleNamespace

    from shared.contacts.ladder import MAX_SMS, sms_text

    link = "https://func-firebell-abcdefghijklm.azurewebsites.net/api/ack/" + ack_links.issue(
        "INC-1234", "Sofia García", NOW, KEY
    )
    long = SimpleNamespace(id="INC-1234", title="Checkout latency above 2 s in every region " * 3, drill=False)
    text = sms_text(long, "SEV1", link)
    assert len(text) == MAX_SMS and text.endswith(f"\nor open {link}")
    assert text.split("\n")[:2] == [
        "Firebell SEV1 INC-1234: Checkout latency above 2 s in every region Checkout latency a...",
        "Reply ACK 1234 to acknowledge",
    ]
    short = SimpleNamespace(id="INC-7", title="Checkout down", drill=False)
    assert sms_text(short, "SEV2", None) == "Firebell SEV2 INC-7: Checkout down\nReply ACK 7 to acknowledge"
    drill = SimpleNamespace(id="INC-8", title="Chaos Day: checkout down", drill=True, severity=2)
    assert (
        sms_text(drill, "SEV2", None)
        == "Firebell DRILL SEV2 INC-8: Chaos Day: checkout down\nReply ACK 8 to acknowledge"
    )
    from shared.contacts.calls import prompt

    assert prompt(drill).startswith("This is Firebell. This is a drill, an exercise. SEV2 incident 8: Chaos Day")
