"""What people said in an incident's channel, as timeline events: one event per Graph chatMessage (a post or a
reply), attributed to its sender and timestamped with its creation time.

The event id is `event_id(createdDateTime, "channel-<message id>")`: derived from the message's facts, so reading
the channel again (at resolve, after a change notification, on a redelivery) writes nothing twice.
A message that @mentions an application — `@firebell …`, which the team-wide outgoing webhook carried to
POST /api/teams — is on the timeline already as that command (or its refusal) and is left out here.
Messages from applications (Firebell's own cards through Workflows, other bots) and system events (member added,
channel renamed) are not people's words and are left out; a deleted message is recorded as deleted, without text.
Pure.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

from shared.core.text import clean
from shared.core.timeutil import parse_instant
from shared.incidents.timeline import CHAT_MESSAGE, TimelineEvent, event_id

SOURCE = "teams-channel"
MAX_TEXT = 4000
_TAGS = re.compile(r"<[^>]+>")
_BREAKS = re.compile(r"<\s*(br|/p|/div|/li)\b[^>]*>", re.IGNORECASE)


def message_event(incident_id: str, channel_id: str, message: dict[str, Any], now: datetime) -> TimelineEvent | None:
    """The timeline event of one chatMessage; None for what is not a person's message (or not readable)."""
    ident, created = message.get("id"), message.get("createdDateTime")
    if message.get("messageType") != "message" or not isinstance(ident, str) or not ident:
        return None
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    user = sender.get("user") if isinstance(sender.get("user"), dict) else None
    if user is None:
        return None  # an application or a bot: Firebell's own cards are on the timeline as their events already
    if _mentions_an_application(message.get("mentions")):
        return None  # an @firebell command: recorded when the outgoing webhook delivered it
    try:
        at = parse_instant(created) if isinstance(created, str) else None
    except ValueError:
        at = None
    if at is None:
        return None
    who = clean(str(user.get("displayName") or "someone"))[:120] or "someone"
    deleted = bool(message.get("deletedDateTime"))
    words = "(message deleted)" if deleted else plain_text(message.get("body"))
    reply_to = message.get("replyToId")
    data = {"message": ident, "channel": channel_id, "sender": str(user.get("id") or "")}
    if isinstance(reply_to, str) and reply_to:
        data["reply_to"] = reply_to
    return TimelineEvent(
        incident_id=incident_id,
        event_id=event_id(at, f"channel-{ident}"),
        kind=CHAT_MESSAGE,
        at=at,
        recorded_at=now,
        actor=who,
        source=SOURCE,
        text=f"{who}: {words}" if words else f"{who}: (no text)",
        data=data,
    )


def _mentions_an_application(mentions: Any) -> bool:
    if not isinstance(mentions, list):
        return False
    return any(
        isinstance(m, dict) and isinstance(m.get("mentioned"), dict) and m["mentioned"].get("application")
        for m in mentions
    )


def plain_text(body: Any) -> str:
    """A chatMessage body's words: HTML tags dropped, entities decoded, whitespace tidied, length bounded."""
    if not isinstance(body, dict) or not isinstance(body.get("content"), str):
        return ""
    content = body["content"]
    if body.get("contentType") == "html":
        content = html.unescape(_TAGS.sub("", _BREAKS.sub("\n", content)))
    lines = (" ".join(line.split()) for line in clean(content, multiline=True).splitlines())
    return "\n".join(line for line in lines if line)[:MAX_TEXT]
