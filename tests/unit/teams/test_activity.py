"""Reading a Teams outgoing-webhook activity: who spoke, who was mentioned, and the command text."""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.chatops.grammar import Note, parse_command
from shared.core.errors import InvalidInput
from shared.core.text import first_unsafe
from shared.teams.activity import (
    MAX_MARKUP,
    MAX_MENTIONS,
    MAX_NAME,
    MAX_TEXT,
    Speaker,
    TeamsMessage,
    parse_activity,
)
from tests.conftest import SAMPLES
from tests.json_documents import positions, replace_at

SAMPLE = json.loads((SAMPLES / "teams" / "outgoing_sample.json").read_bytes())
TIM_ID = "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQtHieVkHilBZ9XHoq9j7Zaqt7CZ-NJWi7me2kHTL3Bw"
LARRY_ID = "29:1jnFbZYs0qXMLH-O4S9-sDLNc3NVEIMWMnC-q0tVdEa-8BRosfojI35QdNoB-yW8iutWLJzHUm_mqEZSSU8si0Q"
LARRY = Speaker(name="Larry Brown", teams_id=LARRY_ID, aad_object_id=None)


def _activity(**changes: Any) -> dict[str, Any]:
    """The published sample with some top-level fields replaced (a value of ... removes the field)."""
    document = copy.deepcopy(SAMPLE)
    for key, value in changes.items():
        key = "from" if key == "sender" else key
        if value is ...:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def _text_of(markup: str) -> str:
    return parse_activity(_activity(text=markup)).text


def test_the_published_sample_reads_as_tim_saying_hello_to_larry():
    assert parse_activity(copy.deepcopy(SAMPLE)) == TeamsMessage(
        text="Hello Larry Brown",
        speaker=Speaker(name="Tim Jones", teams_id=TIM_ID, aad_object_id=None),
        mentions=(LARRY,),
        sent_at=datetime(2017, 2, 1, 21, 10, 7, 437000, tzinfo=UTC),
        conversation_id="19:253b1f341670408fb6fe51050b6e5ceb@thread.skype;messageid=1485983194839",
    )


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<at>Firebell</at> role INC-7 commander <at>Larry Brown</at>", "role INC-7 commander Larry Brown"),
        ("<p><at>Firebell</at>&nbsp;ack&nbsp;INC-7</p>", "ack INC-7"),
        ("<AT>Firebell</AT> ack INC-7", "ack INC-7"),
        ("<div><at>Firebell</at></div><div>update INC-7</div><div>Rolling back</div>", "update INC-7 Rolling back"),
        ("<p>note INC-7 db</p><p>is back</p><br>really", "note INC-7 db is back really"),
        ("<at>Firebell</at> note INC-7 <b>bold</b>, <i>it</i>alic", "note INC-7 bold, italic"),
        ("<at>Firebell</at> note INC-7 <at>Larry Brown</at>'s fix", "note INC-7 Larry Brown's fix"),
        ("<at>Firebell</at> note INC-7 a &lt; b &amp;&amp; c &gt; d", "note INC-7 a < b && c > d"),
        ("<at>Firebell</at> note INC-7 &amp;lt; stays escaped once", "note INC-7 &lt; stays escaped once"),
        ("<at>Firebell</at> note INC-7 a < b", "note INC-7 a < b"),
        ("<at>Firebell</at> note INC-7 <!-- hidden --> shown", "note INC-7 shown"),
        ("<at>Firebell</at>\n  note\tINC-7\r\n  spaced  out ", "note INC-7 spaced out"),
        # The text policy (shared.core.text): what cannot be stored shows as U+FFFD, bidi controls go.
        ("<at>Firebell</at> note INC-7 bell\x07 null\x00 end", "note INC-7 bell\ufffd null\ufffd end"),
        ("<at>Firebell</at> note INC-7 half \ud800 surrogate", "note INC-7 half \ufffd surrogate"),
        ("<at>Firebell</at> note INC-7 \ufffe\uffff \u202edesrever", "note INC-7 \ufffd\ufffd desrever"),
        ("<at>Firebell</at> note INC-7 &#xFFFE;&#x202E;x", "note INC-7 x"),
        ("<at>Firebell</at>", ""),
        ("<at>Firebell</at> &nbsp; <p></p>", ""),
        ("", ""),
        ("ack INC-7", "ack INC-7"),
    ],
)
def test_the_command_text_is_the_text_without_the_bot_mention_tags_or_entities(markup, text):
    assert _text_of(markup) == text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<at>Firebell</at> note INC-7 <b>unclosed bold", "note INC-7 unclosed bold"),
        ("<at>Firebell</at> note INC-7 <script>unclosed script", "note INC-7 unclosed script"),
        ("<at>Firebell</at> note INC-7 <style>p {}</style> styled", "note INC-7 p {} styled"),
        ("<at>Firebell ack INC-7", "Firebell ack INC-7"),  # an unclosed mention does not swallow the message
        ("<at>Firebell</at> note INC-7 <![CDATA[x]]> and <![if y]>", "note INC-7 <![CDATA[x]]> and <![if y]>"),
        ("<at>Firebell</at> note INC-7 <![ 1 <![unknown[ z", "note INC-7 <![ 1 <![unknown[ z"),
        ("<at>Firebell</at> note INC-7 1 <2 and 3> 2, x </ y, <3", "note INC-7 1 <2 and 3> 2, x </ y, <3"),
        ("<at>Firebell</at> note INC-7 <? processing ?> after", "note INC-7 after"),
        ("<at>Firebell</at> note INC-7 <div class='x' <p>", "note INC-7"),
    ],
)
def test_malformed_markup_still_gives_readable_text(markup, text):
    assert _text_of(markup) == text


def test_a_script_tag_is_stripped_but_its_words_are_kept_as_plain_text():
    text = _text_of("<at>Firebell</at> note INC-1 <script>alert(1)</script>")
    assert text == "note INC-1 alert(1)"
    assert parse_command(text) == Note(incident_id="INC-1", text="alert(1)")


def test_escaped_markup_arrives_as_literal_text_and_survives_into_the_command():
    # What Teams sends when someone types "<script>": it must be stored as those characters, never as markup.
    text = _text_of("<at>Firebell</at> note INC-1 &lt;script&gt;alert(1)&lt;/script&gt;")
    assert text == "note INC-1 <script>alert(1)</script>"
    assert parse_command(text) == Note(incident_id="INC-1", text="<script>alert(1)</script>")


def test_text_up_to_the_limit_is_accepted_and_markup_does_not_count():
    assert len(_text_of("<at>Firebell</at> " + "x" * MAX_TEXT)) == MAX_TEXT
    assert _text_of("<b></b>" * 4000 + "ack INC-7") == "ack INC-7"


def test_markup_beyond_what_teams_can_send_is_refused_before_parsing():
    at_the_limit = "<b></b>" * (MAX_MARKUP // 7) + "x" * (MAX_MARKUP % 7)
    assert len(at_the_limit) == MAX_MARKUP and _text_of(at_the_limit) == "x" * (MAX_MARKUP % 7)
    with pytest.raises(InvalidInput, match=f"^text is {MAX_MARKUP + 1} characters with markup; the limit is 32768"):
        _text_of(at_the_limit + "y")


def test_text_over_the_limit_is_refused_naming_the_limit():
    with pytest.raises(InvalidInput, match=f"^text is {MAX_TEXT + 1} characters .* limit is {MAX_TEXT} characters"):
        _text_of("<at>Firebell</at> " + "x" * (MAX_TEXT + 1))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": ...}, "type"),
        ({"type": "conversationUpdate"}, "type"),
        ({"type": ["message"]}, "type"),
        ({"sender": ...}, "from"),
        ({"sender": None}, "from"),
        ({"sender": "Tim Jones"}, "from"),
        ({"sender": {}}, "from"),
        ({"sender": {"name": "  ", "id": ""}}, "from"),
        ({"sender": {"name": 7, "id": TIM_ID}}, "from.name"),
        ({"sender": {"name": "Tim", "id": ["x"]}}, "from.id"),
        ({"sender": {"name": "Tim", "aadObjectId": {}}}, "from.aadObjectId"),
        ({"sender": {"name": "Tim", "id": "29:" + "x" * 300}}, "from.id"),
        ({"text": ...}, "text"),
        ({"text": None}, "text"),
        ({"text": 42}, "text"),
        ({"text": {"content": "ack INC-7"}}, "text"),
    ],
)
def test_an_activity_that_is_not_a_message_from_someone_is_refused_naming_the_field(changes, field):
    with pytest.raises(InvalidInput) as raised:
        parse_activity(_activity(**changes))
    assert raised.value.detail.startswith(f"{field} ")
    assert raised.value.code == "invalid_activity"


def test_a_long_wrong_value_is_not_echoed_whole_in_the_error():
    with pytest.raises(InvalidInput) as raised:
        parse_activity(_activity(type="x" * 500))
    assert "x" * 41 not in raised.value.detail


def test_the_speaker_carries_every_identity_teams_gives():
    sender = {"id": " 29:abc ", "name": "  Alex\n Kim ", "aadObjectId": "6f0a1c52-7d5b-4a44-9a41-2c7e0e4d1b2f"}
    assert parse_activity(_activity(sender=sender)).speaker == Speaker(
        name="Alex Kim", teams_id="29:abc", aad_object_id="6f0a1c52-7d5b-4a44-9a41-2c7e0e4d1b2f"
    )


def test_a_speaker_without_a_name_is_named_by_their_id():
    speaker = parse_activity(_activity(sender={"id": TIM_ID, "name": None})).speaker
    assert speaker == Speaker(name=TIM_ID[:MAX_NAME], teams_id=TIM_ID, aad_object_id=None)


def test_a_speaker_without_an_id_still_speaks_by_name():
    assert parse_activity(_activity(sender={"name": "Alex Kim"})).speaker == Speaker("Alex Kim", None, None)


def test_a_very_long_display_name_is_shortened():
    speaker = parse_activity(_activity(sender={"name": "A" * 99 + " B" + "C" * 200})).speaker
    assert speaker.name == "A" * 99


def _mention(name: Any, mention_id: Any = None, **extra: Any) -> dict[str, Any]:
    return {"type": "mention", "mentioned": {"id": mention_id, "name": name, **extra}, "text": f"<at>{name}</at>"}


def test_mentions_leave_out_the_bot_repeats_and_malformed_entities():
    entities = [
        _mention("Firebell", "29:not-a-bot-prefix"),  # the bot, known by the first <at> in the text
        _mention("Other Bot", "28:bot"),
        _mention("Larry Brown", LARRY_ID),
        {"type": "clientInfo", "locale": "en-US"},
        _mention("Larry Brown", LARRY_ID),
        _mention(None, "29:nameless"),
        _mention("   ", "29:blank"),
        {"type": "mention", "mentioned": "Dana"},
        "not an entity",
        _mention("Alex Kim", None, aadObjectId="6f0a1c52-7d5b-4a44-9a41-2c7e0e4d1b2f"),
        _mention("Sam  Lee", ["not", "an", "id"]),
    ]
    message = parse_activity(_activity(text="<at>Firebell</at> hi", entities=entities))
    assert message.mentions == (
        LARRY,
        Speaker("Alex Kim", None, "6f0a1c52-7d5b-4a44-9a41-2c7e0e4d1b2f"),
        Speaker("Sam Lee", None, None),
    )


def test_mentions_are_bounded():
    entities = [_mention(f"Person {number}", f"29:{number}") for number in range(MAX_MENTIONS + 5)]
    message = parse_activity(_activity(entities=entities))
    assert [person.name for person in message.mentions] == [f"Person {number}" for number in range(MAX_MENTIONS)]


@pytest.mark.parametrize("entities", [..., None, "mention", {"type": "mention"}, []])
def test_without_a_list_of_entities_there_are_no_mentions(entities):
    assert parse_activity(_activity(entities=entities)).mentions == ()


@pytest.mark.parametrize(
    ("timestamp", "sent_at"),
    [
        ("2017-02-01T14:10:07.437-07:00", datetime(2017, 2, 1, 21, 10, 7, 437000, tzinfo=UTC)),
        ("2017-02-01T21:10:07", datetime(2017, 2, 1, 21, 10, 7, tzinfo=UTC)),
        ("yesterday", None),
        ("0001-01-01T00:00:00+01:00", None),
        (1485983408, None),
        (None, None),
        (..., None),
    ],
)
def test_the_sending_time_is_utc_when_teams_gives_a_valid_one(timestamp, sent_at):
    assert parse_activity(_activity(timestamp=timestamp)).sent_at == sent_at


@pytest.mark.parametrize("conversation", [..., None, "19:abc", {"id": 7}, {"id": " "}, {"id": "x" * 300}])
def test_a_missing_or_malformed_conversation_has_no_id(conversation):
    assert parse_activity(_activity(conversation=conversation)).conversation_id is None


def _one_line(text: str) -> bool:
    """Whitespace collapsed and nothing the text policy forbids (so encodable as UTF-8, fit for XML)."""
    return text == " ".join(text.split()) and first_unsafe(text, multiline=False) is None


def _assert_well_formed(message: TeamsMessage) -> None:
    assert _one_line(message.text) and len(message.text) <= MAX_TEXT
    assert _one_line(message.speaker.name) and 0 < len(message.speaker.name) <= MAX_NAME
    assert len(message.mentions) <= MAX_MENTIONS
    assert all(_one_line(person.name) and 0 < len(person.name) <= MAX_NAME for person in message.mentions)
    assert message.sent_at is None or message.sent_at.utcoffset().total_seconds() == 0


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["message", "mention", "<at>Firebell</at> ack INC-7", "2017-02-01T21:10:07Z", "<![x[", "28:b"])
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(["type", "from", "text", "name", "id", "mentioned"]), children, max_size=5)
    ),
    max_leaves=30,
)
_markup = st.lists(
    st.sampled_from(["<at>", "</at>", "<p>", "</div>", "<br/>", "<script>", "&nbsp;", "&lt;", "&", "<![", "<!--", "<"])
    | st.text(max_size=12),
    max_size=12,
).map("".join)


def _parses_or_refuses(document: dict[str, Any]) -> None:
    try:
        message = parse_activity(document)
    except InvalidInput:
        return
    _assert_well_formed(message)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(document=st.dictionaries(st.text(max_size=10) | st.sampled_from(list(SAMPLE)), _json, max_size=8))
def test_any_json_object_is_read_or_refused_as_invalid_input(document):
    _parses_or_refuses(document)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(markup=_markup, sender=_json)
def test_any_text_and_sender_in_the_sample_are_read_or_refused_as_invalid_input(markup, sender):
    _parses_or_refuses(_activity(text=markup))
    _parses_or_refuses(_activity(text=markup, sender=sender))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_sample_with_random_parts_replaced_is_read_or_refused_as_invalid_input(data):
    document = copy.deepcopy(SAMPLE)
    for path in data.draw(st.lists(st.sampled_from(positions(document)), min_size=1, max_size=4)):
        with contextlib.suppress(KeyError, IndexError, TypeError):  # an earlier replacement removed this position
            replace_at(document, path, data.draw(_json | _markup))
    _parses_or_refuses(document)
