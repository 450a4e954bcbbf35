"""Cards waiting for one webhook share a request: what the combined message is, and how many cards it takes."""

from __future__ import annotations

import json
import threading

from shared.teams.coalescing import MAX_MESSAGE_BYTES, Coalescer, combined


def message(text: str) -> bytes:
    card = {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": text}]}
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
    return json.dumps({"type": "message", "attachments": [attachment]}, separators=(",", ":")).encode()


def texts(body: bytes) -> list[str]:
    return [a["content"]["body"][0]["text"] for a in json.loads(body)["attachments"]]


def test_one_message_is_sent_as_it_was_encoded():
    body = message("INC-1 paged")
    assert combined([body]) is body


def test_messages_combine_into_one_envelope_in_their_order():
    body = combined([message("first"), message("second"), message("third ✓")])
    assert json.loads(body)["type"] == "message"
    assert texts(body) == ["first", "second", "third ✓"]


def test_a_request_never_carries_more_than_the_teams_message_limit():
    sent: list[bytes] = []
    go = threading.Event()
    coalescer = Coalescer(lambda url, body: sent.append(body), lambda url: go.wait(), lambda failure: False)
    cards = [message(f"{n:02d} " + "x" * 4000) for n in range(12)]  # about 4 KB each: 12 cards, 48 KB in all
    threads = [threading.Thread(target=coalescer.post, args=("https://wf.example/1", body)) for body in cards]
    for thread in threads:
        thread.start()
    while sum(len(waiting) for waiting in coalescer._waiting.values()) < len(cards):
        threading.Event().wait(0.01)  # every card waiting before the first slot comes free
    go.set()
    for thread in threads:
        thread.join()
    assert all(len(body) <= MAX_MESSAGE_BYTES for body in sent)
    assert len(sent) == 2  # seven ~4 KB cards fit in 28 KB: twelve take two requests
    assert sorted(text for body in sent for text in texts(body)) == sorted(text for c in cards for text in texts(c))


def test_a_card_for_an_incident_channel_always_goes_alone():
    """The channel flow posts one card per request (docs/teams.md): combining would lose all but the first."""
    sent: list[bytes] = []
    go = threading.Event()
    coalescer = Coalescer(lambda url, body: sent.append(body), lambda url: go.wait(), lambda failure: False)

    def for_channel(text: str, channel: str) -> bytes:
        document = json.loads(message(text))
        return json.dumps({**document, "teamId": "t", "channelId": channel}).encode()

    cards = [for_channel("a1", "19:a"), for_channel("b1", "19:b"), for_channel("a2", "19:a"), message("plain")]
    threads = [threading.Thread(target=coalescer.post, args=("https://wf.example/ch", body)) for body in cards]
    for thread in threads:
        thread.start()
    while sum(len(waiting) for waiting in coalescer._waiting.values()) < len(cards):
        threading.Event().wait(0.01)
    go.set()
    for thread in threads:
        thread.join()
    alone = sorted((json.loads(body).get("channelId") or "", texts(body)) for body in sent)
    assert alone == [("", ["plain"]), ("19:a", ["a1"]), ("19:a", ["a2"]), ("19:b", ["b1"])]  # a request each


def test_a_card_refused_alone_leaves_the_cards_waiting_behind_it_to_their_own_turn():
    class Refused(Exception):
        pass

    sent: list[bytes] = []
    first_in_flight, go = threading.Event(), threading.Event()

    def send(url: str, body: bytes) -> None:
        if texts(body) == ["bad"]:
            first_in_flight.set()
            go.wait(5)
            raise Refused("HTTP 400 from Workflows")
        sent.append(body)

    coalescer = Coalescer(send, lambda url: None, lambda failure: isinstance(failure, Refused))
    outcomes: dict[str, str] = {}

    def post(text: str) -> None:
        try:
            coalescer.post("https://wf.example/1", message(text))
            outcomes[text] = "sent"
        except Refused:
            outcomes[text] = "refused"

    bad = threading.Thread(target=post, args=("bad",))
    bad.start()
    assert first_in_flight.wait(5)
    waiting = [threading.Thread(target=post, args=(text,)) for text in ("good 1", "good 2")]
    for thread in waiting:
        thread.start()
    while sum(len(queue) for queue in coalescer._waiting.values()) < 2:
        threading.Event().wait(0.01)
    go.set()
    for thread in [bad, *waiting]:
        thread.join()
    assert outcomes == {"bad": "refused", "good 1": "sent", "good 2": "sent"}
    assert sorted(text for body in sent for text in texts(body)) == ["good 1", "good 2"]
