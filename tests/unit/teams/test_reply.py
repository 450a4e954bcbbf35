"""Replies to Teams are Bot Framework messages; words people typed are echoed inert, cards only open http(s) links."""

from __future__ import annotations

import json

from shared.teams.reply import card_reply, plain, text_reply


def test_typed_markdown_is_echoed_as_typed_not_rendered():
    assert plain("[click](javascript:alert(1)) **bold** <b>x</b> `code`") == (
        "\\[click\\](javascript:alert(1)) \\*\\*bold\\*\\* \\<b\\>x\\</b\\> \\`code\\`"
    )
    assert plain("INC-7 is resolved.") == "INC-7 is resolved."  # ordinary punctuation stays readable


def test_a_card_reply_uses_only_open_url_actions_with_http_links():
    reply = card_reply(
        "INC-7 [SEV2] Checkout",
        ["line"],
        [("Status", "identified")],
        [("Runbook", "https://runbooks.example.com/checkout"), ("Evil", "javascript:alert(1)"), ("Rel", "/x")],
    )
    (attachment,) = reply["attachments"]
    card = attachment["content"]
    assert (reply["type"], attachment["contentType"], card["version"]) == (
        "message",
        "application/vnd.microsoft.card.adaptive",
        "1.4",
    )
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Runbook", "url": "https://runbooks.example.com/checkout"}
    ]
    assert json.loads(json.dumps(text_reply("hi"))) == {"type": "message", "text": "hi"}
