"""A Teams outgoing-webhook activity (Bot Framework `message`) → who said what, as plain text.

Teams puts `<at>Name</at>` markup for each mention into `text` (the first one addresses Firebell) and may add HTML
(`<p>`, `<div>`, `&nbsp;`). The command text is that text with the bot mention removed, other mentions flattened to
the plain name, tags stripped and entities unescaped: plain text that is stored as text and escaped wherever shown.

Pure: a decoded JSON object in (`shared.json_body.decode_json_object` does the decoding), a frozen TeamsMessage out,
or InvalidInput naming the field that is wrong.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.core.errors import InvalidInput
from shared.core.text import clean
from shared.core.timeutil import parse_instant

MAX_TEXT = 2000  # characters of command text after stripping
# Characters of text before stripping. Teams refuses messages over about 28 KB, so this only stops forged bodies
# full of tags from spending the 5 s Teams allows on HTML parsing.
MAX_MARKUP = 32 * 1024
MAX_NAME = 100  # characters of a display name
MAX_ID = 256  # characters of a Teams or Entra ID identifier (real ones are under 150)
MAX_MENTIONS = 20
# Tags that separate words when rendered; dropping them must not glue "<p>ack</p><p>INC-7</p>" into "ackINC-7".
_BREAKING_TAGS = frozenset(
    {"br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "table", "blockquote", "pre", "hr"}
    | {f"h{level}" for level in range(1, 7)}
)
# A start or end tag (name from a letter, as browsers read it; script and style bodies are ordinary text, so an
# unclosed <script> never swallows the message), a comment, a declaration or a processing instruction; "<![" (an
# SGML marked section, never sent by Teams) and "<" before a non-letter stay text.
_TAG = re.compile(r"<(?:(?P<end>/?)(?P<name>[A-Za-z][^\s/>]*)[^>]*|!(?!\[)[^>]*|\?[^>]*)>")
# Bot Framework identifies bots with ids "28:…" (people are "29:…"); a mentioned bot is not a person to assign.
_BOT_ID_PREFIX = "28:"


@dataclass(frozen=True)
class Speaker:
    """A person as Teams identifies them."""

    name: str  # display name (from.name), whitespace collapsed, at most MAX_NAME characters
    teams_id: str | None  # from.id
    aad_object_id: str | None  # from.aadObjectId (Entra ID object id)


@dataclass(frozen=True)
class TeamsMessage:
    text: str  # the command text; "" when the message only mentions Firebell
    speaker: Speaker
    mentions: tuple[Speaker, ...]  # people mentioned other than the bot, in order, without repeats
    sent_at: datetime | None  # the activity's timestamp in UTC, when present and valid
    conversation_id: str | None


def parse_activity(document: dict[str, Any]) -> TeamsMessage:
    if document.get("type") != "message":
        raise _invalid(
            f"type must be 'message' (a Teams outgoing webhook activity), got {_shown(document.get('type'))}"
        )
    speaker = _speaker(document.get("from"))
    raw_text = document.get("text")
    if not isinstance(raw_text, str):
        raise _invalid(f"text must be a string, got {_shown(raw_text)}")
    if len(raw_text) > MAX_MARKUP:
        raise _invalid(f"text is {len(raw_text)} characters with markup; the limit is {MAX_MARKUP} characters")
    text, bot_name = _command_text(raw_text)
    if len(text) > MAX_TEXT:
        raise _invalid(f"text is {len(text)} characters after removing markup; the limit is {MAX_TEXT} characters")
    return TeamsMessage(
        text=text,
        speaker=speaker,
        mentions=_mentions(document.get("entities"), bot_name),
        sent_at=_instant(document.get("timestamp")),
        conversation_id=_optional_id(document.get("conversation"), "id"),
    )


def _speaker(value: Any) -> Speaker:
    # The speaker is the author of the timeline entry, so unlike the optional parts it must be well formed.
    if not isinstance(value, dict):
        raise _invalid(f"from must be an object naming the sender, got {_shown(value)}")
    teams_id = _sender_id(value, "id")
    # Without a display name the id has to do: every timeline entry needs an author to show.
    name = _display_name(_sender_field(value, "name")) or _display_name(teams_id or "")
    if not name:
        raise _invalid("from must have a non-empty name or id")
    return Speaker(
        name=name,
        teams_id=teams_id,
        aad_object_id=_sender_id(value, "aadObjectId"),
    )


def _sender_field(sender: dict[str, Any], key: str) -> str:
    value = sender.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(f"from.{key} must be a string, got {_shown(value)}")
    return value


def _sender_id(sender: dict[str, Any], key: str) -> str | None:
    value = clean(_sender_field(sender, key)).strip()
    if len(value) > MAX_ID:
        raise _invalid(f"from.{key} is longer than {MAX_ID} characters")
    return value or None


def _mentions(entities: Any, bot_name: str | None) -> tuple[Speaker, ...]:
    # Mentions only enrich the command (who "Larry Brown" is), so a malformed entity is skipped, not an error.
    if not isinstance(entities, list):
        return ()
    found: list[Speaker] = []
    for entity in entities:
        person = _mentioned(entity)
        if person is None or person in found or _is_bot(person, bot_name):
            continue
        found.append(person)
        if len(found) == MAX_MENTIONS:
            break
    return tuple(found)


def _mentioned(entity: Any) -> Speaker | None:
    if not isinstance(entity, dict) or entity.get("type") != "mention":
        return None
    account = entity.get("mentioned")
    if not isinstance(account, dict) or not isinstance(account.get("name"), str):
        return None
    name = _display_name(account["name"])
    if not name:
        return None
    return Speaker(
        name=name,
        teams_id=_optional_id(account, "id"),
        aad_object_id=_optional_id(account, "aadObjectId"),
    )


def _is_bot(person: Speaker, bot_name: str | None) -> bool:
    # By name: the first <at> in the text addresses Firebell. By id: Microsoft's own sample names the bot
    # differently in text and entities, but its id has the bot prefix.
    return person.name == bot_name or (person.teams_id or "").startswith(_BOT_ID_PREFIX)


def _optional_id(container: Any, key: str) -> str | None:
    value = container.get(key) if isinstance(container, dict) else None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_ID:
        return None
    return clean(value).strip() or None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_instant(value)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted across midnight into UTC
        return None


def _command_text(markup: str) -> tuple[str, str | None]:
    """The plain command text, and the name in the bot mention that was removed (None when there was none).

    Tags are found by one regular expression over the markup, not by the stdlib HTMLParser, which rescans to the
    end of the input for each "<" that does not open a complete tag (32 KB of "<a " took 23 s; Teams waits 5 s).
    A "<" after the last ">" cannot open a tag, so only the part up to it is searched: each character is read once.
    """
    reader = _MessageReader()
    closed = markup.rfind(">") + 1
    at = 0
    for tag in _TAG.finditer(markup, 0, closed):
        reader.handle_data(html.unescape(markup[at : tag.start()]))
        name = (tag["name"] or "").lower()
        if name and tag["end"]:
            reader.handle_endtag(name)
        elif name:
            reader.handle_starttag(name, [])
            if tag[0].endswith("/>"):
                reader.handle_endtag(name)
        at = tag.end()
    reader.handle_data(html.unescape(markup[at:]))
    return _plain(reader.text()), reader.bot_name


def _display_name(value: str) -> str:
    return _plain(value)[:MAX_NAME].rstrip()


def _plain(text: str) -> str:
    """One line of text, cleaned by the text policy: Teams shows the sender no detail of a 400, and the odd
    characters come from the client, not from what was typed (shared.core.text)."""
    return " ".join(clean(text).split())


class _MessageReader:
    """Collects the text of a message's HTML, leaving out the first <at>…</at> (the mention of Firebell)."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._bot_mention_at: int | None = None  # where in _parts the bot mention began, while inside it
        self.bot_name: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "at" and self.bot_name is None and self._bot_mention_at is None:
            self._bot_mention_at = len(self._parts)
        elif tag in _BREAKING_TAGS:
            self._parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "at" and self._bot_mention_at is not None:
            # An unclosed first <at> never gets here, so its text stays in the message rather than vanishing.
            self.bot_name = _display_name("".join(self._parts[self._bot_mention_at :]))
            del self._parts[self._bot_mention_at :]
            self._bot_mention_at = None
        elif tag in _BREAKING_TAGS:
            self._parts.append(" ")

    def handle_data(self, data: str) -> None:
        self._parts.append(data)

    def text(self) -> str:
        return "".join(self._parts)


def _shown(value: Any) -> str:
    """A short, safe description of a wrong value for an error detail (never the whole value)."""
    if isinstance(value, str):
        return repr(value[:40] + "…") if len(value) > 40 else repr(value)
    return "null" if value is None else type(value).__name__


def _invalid(detail: str) -> InvalidInput:
    return InvalidInput(detail, code="invalid_activity")
