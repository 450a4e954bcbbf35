"""Delivery chaos, small (`make chaos` runs the full storm): alerts of many groups in shuffled order with shuffled
fired times, a share delivered twice, spread over the run, while a proxy in front of Azurite's queue service loses a
share of every queue message the app sends. Every incident still pages, once, and nothing is poisoned."""

from __future__ import annotations

from collections import Counter, defaultdict

from chaos import delivery
from chaos.readback import cards_per_key, first_pages
from chaos.rig import endpoint
from shared.core.storage import StorageAccount
from shared.notifications.cards import encode
from shared.readiness.weekly import digest_card, week_figures
from tests.conftest import wipe
from tests.integration.test_notifications import paged_card_message
from tests.standins.faulty_storage import FaultyStorage
from tests.standins.workflow_server import Received
from tests.unit.readiness.test_weekly import W49, summaries


def test_a_lost_message_is_answered_201_and_never_reaches_the_queue(azurite):
    wipe(azurite.connection_string)
    upstream = endpoint(azurite.connection_string, "Queue")
    with FaultyStorage(upstream.rsplit("/", 1)[0], service="queue") as proxy:
        proxied = StorageAccount(azurite.connection_string.replace(upstream, f"{proxy.base}/devstoreaccount1"))
        direct = StorageAccount(azurite.connection_string)
        proxied.queue("lossy").send_message("kept")  # creates the queue, then forwards the message
        proxy.drop_messages(1.0, frozenset({"lossy"}))
        receipt = proxied.queue("lossy").send_message("lost")
        proxied.queue("other").send_message("kept elsewhere")  # a queue not chosen keeps every message
        assert receipt.id and receipt.pop_receipt  # the sender believes it was queued
        assert [m.content for m in direct.queue("lossy").receive_messages()] == ["kept"]
        assert [m.content for m in direct.queue("other").receive_messages()] == ["kept elsewhere"]
        assert (proxy.put, proxy.dropped) == (Counter({"lossy": 2, "other": 1}), Counter({"lossy": 1}))


def test_shuffled_repeated_late_alerts_with_lost_messages_still_page_every_incident_exactly_once(
    azurite, storage_account
):
    size = delivery.SIZES["fast"]
    outcome = delivery.measure(size, azurite)

    assert outcome.statuses == Counter({202: size.alerts})
    assert sum(outcome.dropped.values()) > 0  # messages were lost: the fault happened
    named: dict[int, set[str | None]] = defaultdict(set)
    for answer in outcome.answers:
        named[answer.delivery.group].add(answer.incident)
    assert all(len(incidents) == 1 for incidents in named.values()), named  # one incident per group, every answer
    assert len(set().union(*named.values())) == size.groups == len(outcome.incidents)
    assert outcome.unpaged == []
    # One paged card per incident, step 1 of the standard policy, and nothing else.
    assert sorted(outcome.cards) == sorted(
        (ident, "Paging", "platform primary, step 1 of 3, round 1 of 2") for ident in outcome.incidents
    )
    assert set(outcome.cards.values()) == {1}
    assert sum(outcome.requests) == len(outcome.incidents)  # each card in one accepted request, alone or shared
    assert outcome.poison == 0
    assert delivery.broken(outcome) == []


def test_the_readback_counts_incident_cards_and_passes_over_the_weekly_digest():
    """The hourly digest timer sends last week's readiness card at the first tick of a fresh store: a run crossing
    the hour receives it beside the pages, and it names no incident."""
    figures = week_figures(W49, summaries())
    digest = Received("/workflows/channel", 1.0, encode(digest_card(figures, figures)), 202)
    page = Received("/workflows/channel", 2.0, encode(paged_card_message("INC-7")), 202)
    assert list(first_pages([digest, page])) == ["INC-7"]
    assert cards_per_key([digest, page]) == Counter({("INC-7", "Paging", "payments primary, step 1 of 1"): 1})
