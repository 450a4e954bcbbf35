"""Replies to Teams outgoing-webhook messages: Bot Framework `message` activities, text or an Adaptive Card.

Teams renders a reply's text as Markdown, so words people typed are escaped before they are echoed: a note
containing `[click](javascript:…)` or `**` shows as typed. Cards in replies may only use Action.OpenUrl, and
only with http(s) URLs.
"""

from __future__ import annotations

from typing import Any

from shared.core.links import is_web_url

CARD_VERSION = "1.4"  # what Teams renders in outgoing-webhook replies
# Emphasis, code, links and HTML need these; escaping brackets is enough to stop `[text](url)` from linking.
_MARKDOWN = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>#|~"})


def plain(text: str) -> str:
    """Words a person typed, made inert for Markdown."""
    return text.translate(_MARKDOWN)


def text_reply(text: str) -> dict[str, Any]:
    return {"type": "message", "text": text}


def drill_reply(reply: dict[str, Any], drill: bool, label: str = "DRILL") -> dict[str, Any]:
    """A reply about a drill, with the label in front of its text (or its card's title): nobody reading it takes
    the exercise for an outage."""
    if not drill:
        return reply
    if isinstance(reply.get("text"), str):
        return {**reply, "text": f"**{label}** · {reply['text']}"}
    attachments = []
    for attachment in reply.get("attachments", []):
        card = attachment.get("content", {})
        body = list(card.get("body", []))
        if body and body[0].get("type") == "TextBlock":
            body[0] = {**body[0], "text": f"{label} · {body[0]['text']}"}
        attachments.append({**attachment, "content": {**card, "body": body}})
    return {**reply, "attachments": attachments}


def card_reply(title: str, lines: list[str], facts: list[tuple[str, str]], links: list[tuple[str, str]]) -> dict:
    """A card with a title, plain lines, a fact set and link buttons (Action.OpenUrl, http(s) only)."""
    heading = {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True}
    body: list[dict[str, Any]] = [heading]
    body += [{"type": "TextBlock", "text": line, "wrap": True} for line in lines]
    if facts:
        body.append({"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in facts]})
    actions = [{"type": "Action.OpenUrl", "title": label, "url": url} for label, url in links if is_web_url(url)]
    card = {"type": "AdaptiveCard", "version": CARD_VERSION, "body": body, "actions": actions}
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }
