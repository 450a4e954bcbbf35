"""A channel's messages as timeline events: people's words, attributed, timestamped, one id per message."""

from datetime import UTC, datetime

from shared.channels.transcript import SOURCE, message_event, plain_text

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def graph_message(**changes):
    message = {
        "id": "1733480000000",
        "replyToId": None,
        "messageType": "message",
        "createdDateTime": "2026-12-06T09:05:30.123Z",
        "deletedDateTime": None,
        "from": {"user": {"id": "u-1", "displayName": "Ana Souza"}, "application": None},
        "body": {"contentType": "html", "content": "<div><p>db failover <b>started</b></p><p>ETA 5&nbsp;min</p></div>"},
        "mentions": [],
    }
    message.update(changes)
    return message


def test_a_persons_message_is_an_event_attributed_and_stamped_with_its_creation():
    event = message_event("INC-7", "19:c@thread.tacv2", graph_message(), NOW)
    assert event is not None
    assert (event.actor, event.at, event.source, event.kind) == (
        "Ana Souza",
        datetime(2026, 12, 6, 9, 5, 30, 123000, tzinfo=UTC),
        SOURCE,
        "chat.message",
    )
    assert event.text == "Ana Souza: db failover started\nETA 5 min"  # tags dropped, entities decoded, spaces tidied
    assert event.event_id.endswith("-channel-1733480000000")
    assert event.data == {"message": "1733480000000", "channel": "19:c@thread.tacv2", "sender": "u-1"}


def test_the_same_message_read_twice_names_the_same_event():
    first = message_event("INC-7", "c", graph_message(), NOW)
    again = message_event("INC-7", "c", graph_message(), datetime(2026, 12, 7, tzinfo=UTC))
    assert first is not None and again is not None and first.event_id == again.event_id


def test_apps_system_messages_and_commands_to_an_app_are_left_out():
    bot = graph_message(**{"from": {"user": None, "application": {"id": "a", "displayName": "Workflows"}}})
    system = graph_message(messageType="systemEventMessage")
    command = graph_message(mentions=[{"id": 0, "mentioned": {"application": {"displayName": "Firebell"}}}])
    person = graph_message(mentions=[{"id": 0, "mentioned": {"user": {"displayName": "Tim Jones"}}}])
    assert [message_event("INC-7", "c", m, NOW) for m in (bot, system, command)] == [None, None, None]
    assert message_event("INC-7", "c", person, NOW) is not None


def test_a_deleted_message_is_recorded_without_its_words_and_a_reply_names_its_thread():
    deleted = message_event("INC-7", "c", graph_message(deletedDateTime="2026-12-06T09:06:00Z"), NOW)
    assert deleted is not None and deleted.text == "Ana Souza: (message deleted)"
    reply = message_event("INC-7", "c", graph_message(id="1733480000001", replyToId="1733480000000"), NOW)
    assert reply is not None and reply.data["reply_to"] == "1733480000000"


def test_unreadable_messages_are_skipped_not_crashed_on():
    for broken in (graph_message(id=None), graph_message(createdDateTime="yesterday"), graph_message(**{"from": 5})):
        assert message_event("INC-7", "c", broken, NOW) is None
    assert plain_text({"contentType": "text", "content": "a\u202eb"}) == "ab"
    assert plain_text(None) == ""
