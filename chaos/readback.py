"""What the suites check against: the incidents and their timelines as the stores hold them, the cards the
Workflows stand-in received, and the poison queues."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.core.queues import QUEUES, poison
from shared.core.storage import StorageAccount
from shared.incidents.store import IncidentStore
from shared.incidents.timeline import ESCALATION_PAGED, ESCALATION_SWEPT
from tests.standins.workflow_server import Received

PAGED_TITLE = "Paging"  # the kind line of a paged card (shared.notifications.cards)


@dataclass(frozen=True)
class Paging:
    incident: str
    opened: datetime  # declared_at: when Firebell opened it
    paged: bool  # its timeline says someone was paged
    swept: bool  # the sweeper started its page (its announcement was lost or late)


def paging(connection_string: str) -> dict[str, Paging]:
    """Every incident in the store, and whether its timeline says it paged."""
    store = IncidentStore(StorageAccount(connection_string))
    found = {}
    for incident in store.list_incidents():
        kinds = {event.kind for event in store.timeline(incident.id)}
        found[incident.id] = Paging(
            incident.id, incident.declared_at, ESCALATION_PAGED in kinds, ESCALATION_SWEPT in kinds
        )
    return found


def card_key(card: dict[str, Any]) -> tuple[str, str, str]:
    """(incident, kind, what it is about — the step paged, who acknowledged, else the card's headline): a card the
    channel should see at most once."""
    container, headline, factset = card["body"][:3]
    facts = {fact["title"]: fact["value"] for fact in factset["facts"]}
    kind = container["items"][1]["text"]
    return facts["Incident"], kind, facts.get("Why") or facts.get("Acknowledged by") or headline["text"]


def about_an_incident(card: dict[str, Any]) -> bool:
    """Whether a card is an incident's (paged, acknowledged, a role, …): the weekly readiness digest, which the
    hourly timer sends at the first tick of a fresh store, names no incident (a run that crosses the hour sees it)."""
    body = card.get("body", [])
    return (
        len(body) >= 3
        and "items" in body[0]
        and any(fact.get("title") == "Incident" for fact in body[2].get("facts", []))
    )


def incident_cards(cards: list[Received]) -> list[Received]:
    return [received for received in cards if about_an_incident(received.card)]


def first_pages(cards: list[Received]) -> dict[str, datetime]:
    """When each incident's first paged card arrived, by the wall clock (the stand-in keeps monotonic times)."""
    wall_offset = time.time() - time.monotonic()
    first: dict[str, datetime] = {}
    for received in sorted(incident_cards(cards), key=lambda card: card.arrived):
        incident, kind, _ = card_key(received.card)
        if kind == PAGED_TITLE and incident not in first:
            first[incident] = datetime.fromtimestamp(received.arrived + wall_offset, UTC)
    return first


def cards_per_key(cards: list[Received]) -> Counter[tuple[str, str, str]]:
    return Counter(card_key(received.card) for received in incident_cards(cards))


def poison_messages(connection_string: str) -> int:
    account = StorageAccount(connection_string)
    return sum(account.message_count(poison(queue)) for queue in QUEUES)
