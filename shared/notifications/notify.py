"""What responders hear of a change: per event of a change message, the incident's opening starts its escalation
(step 0 of round 1 runs here and pages the on-call responder; later steps are delayed messages on the
`escalations` queue); an acknowledgement, a commander or communications role assigned or handed off, and the
resolution each post a card; `page <roster|person>` from Teams pages that roster's primary or that person.

Workflows failures are retried inside the call (429 after its Retry-After); an outage beyond that defers the
message with backoff for up to shared.core.deferral.OUTAGE_BOUND, and only then does it fail: delivered again, and
on its last delivery the timeline says "notification failed: <reason>" before it goes to the poison queue.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from shared.core import deferral
from shared.core.alongside import alongside
from shared.core.errors import ConfigurationError, InvalidInput
from shared.core.queues import NOTIFICATIONS
from shared.incidents.changes import RESPONDER_KINDS, ChangeMessage, forward
from shared.incidents.incident import Incident
from shared.incidents.roles import COMMANDER, COMMS
from shared.incidents.timeline import (
    ACKNOWLEDGED,
    ALERT_FIRED,
    ESCALATION_PAGED,
    ESCALATION_SKIPPED,
    INCIDENT_DECLARED,
    PAGE_REQUESTED,
    ROLE_ASSIGNED,
    ROLE_HANDED_OFF,
    STATUS_CHANGED,
    TimelineEvent,
)
from shared.notifications import cards, escalate
from shared.notifications.notifier import REFUSED, SENT, Notifier, holder_of
from shared.oncall.people import Person
from shared.oncall.schedule import PRIMARY

log = logging.getLogger("firebell.notifications")

PAGING_KINDS = frozenset({ALERT_FIRED, INCIDENT_DECLARED, STATUS_CHANGED})  # changes that can make a page due
ANNOUNCED_ROLES = (COMMANDER, COMMS)
FORWARD_AFTER = 2.0  # seconds a change's forwarding waits for its pages at most (their target: out within 2 s)


def on_change(body: bytes, message_id: str, dequeue_count: int, now: datetime, notifier: Notifier) -> Any | None:
    """One `notifications` message: forwarded to the status page, Boards and readiness, and told to responders. A
    Workflows outage (or a long Retry-After) defers the message instead of burning its deliveries
    (shared.core.deferral); returns the deferred message then, else None. A failure on the last delivery of a
    message that can no longer be deferred is written on the timeline, whatever it is, before it goes to poison."""
    try:
        change = ChangeMessage.parse(body)
    except InvalidInput as problem:
        log.error("notifications: message %s dropped: %s", message_id, problem.detail)
        return None  # retrying cannot make it readable
    text = body.decode()
    # Forwarded alongside the rest (a deferred copy's delivery had forwarded it), once the pages due are out: the
    # page waits neither for the status page's and Boards' queue writes nor behind them and their consumers' work in
    # storage, and a slow or failing Teams holds them up FORWARD_AFTER at most. A copy deferred through an outage is
    # made only once the forwarding is done, for the copy does not forward again.
    forwarding = (lambda: None) if deferral.is_deferred(json.loads(text)) else (lambda: forward(text, notifier.account))
    with alongside(forwarding, held_for=FORWARD_AFTER) as forwarded:
        if change.kinds is not None and not change.kinds & RESPONDER_KINDS:
            return None  # e.g. a severity change: Boards acts on it, nobody is paged or told by card
        holder = holder_of(text, message_id)

        def act(deferrable: bool) -> object:
            return notify(
                change, dequeue_count, now, notifier, message_id=holder, deferrable=deferrable, paged=forwarded.go
            )

        return notifier.patiently(
            NOTIFICATIONS, text, change.incident, holder, dequeue_count, now, act, before_deferring=forwarded.finish
        )


def notify(
    change: ChangeMessage,
    dequeue_count: int,
    now: datetime,
    notifier: Notifier,
    message_id: str = "",
    *,
    deferrable: bool = False,
    paged: Callable[[], None] = lambda: None,
) -> list[str]:
    """Act on the listed events of one change; returns the ledger keys of the cards posted now. `deferrable`: a
    Workflows outage will defer the message, so even its last delivery does not give up. `paged` is called once
    the pages the change made due are started (at once when it made none)."""
    store = notifier.store
    # Three independent reads at once (the first page waits on them): the incident, the listed events by point
    # reads (a long-running incident's timeline is not read each time), and — when the change's kinds say it can
    # have made one due — its pages due.
    may_page = change.kinds is None or bool(change.kinds & PAGING_KINDS)
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="notify-read") as reads:
        loading = reads.submit(store.load_incident, change.incident)
        listed = reads.submit(store.events, change.incident, change.events)
        due = reads.submit(store.pages_due, change.incident) if may_page else None
        stored, events, pages = loading.result(), listed.result(), due.result() if due else []
    if stored is None:
        log.warning("notifications: %s does not exist; nothing to tell", change.incident)
        return []
    incident = stored.incident
    by_id = {event.event_id: event for event in events}
    if any(event.kind in PAGING_KINDS for event in by_id.values()):
        # The pages this incident's opening or re-triggering made due, as recorded with its state: each starts its
        # escalation here, whatever order the events arrived in.
        for page in pages:
            holder = message_id or f"page-{page.key}"
            escalate.start(page, incident, holder, dequeue_count, now, notifier, deferrable=deferrable)
    paged()
    posted: list[str] = []
    for ident in dict.fromkeys(change.events):
        event = by_id.get(ident)
        if event is None:
            log.warning("notifications: %s has no event %s", incident.id, ident)
            continue
        built = card_for(event, incident, notifier)
        if built is None:
            continue
        kind, message, requested = built
        url = notifier.channel(incident)
        if url is None:
            notifier.not_configured(incident, now)
            return posted
        key = f"card-{kind}-{event.event_id}"
        sent = notifier.send_once(incident, key, url, message, now, dequeue_count, deferrable=deferrable)
        into = notifier.in_its_channel(incident, message)
        if into is not None:  # and in the incident's own channel, once too (its own ledger key)
            notifier.send_once(incident, f"{key}-channel", *into, now, dequeue_count, deferrable=deferrable)
        if sent == SENT:
            posted.append(key)
            log.info("notifications: %s %s card posted for %s", incident.id, kind, event.event_id)
        if requested is not None and sent != REFUSED:
            _paged_on_request(notifier, incident, event, requested, now)
    return posted


def card_for(
    event: TimelineEvent, incident: Incident, notifier: Notifier
) -> tuple[str, dict[str, Any], Person | None] | None:
    """(card kind, message, person paged) for an event people must hear of; None for the rest."""
    links = notifier.links(incident)
    data = event.data
    if event.kind == ACKNOWLEDGED:
        by = notifier.person_named(str(data.get("by") or event.actor))
        return cards.ACKNOWLEDGED, cards.acknowledged_card(incident, cards.Recipient.of(by), links), None
    if event.kind == ROLE_ASSIGNED and data.get("role") in ANNOUNCED_ROLES and data.get("person"):
        person = notifier.person_named(str(data["person"]))
        return cards.ROLE, cards.role_card(incident, data["role"], cards.Recipient.of(person), None, links), None
    if event.kind == ROLE_HANDED_OFF and data.get("to"):
        person = notifier.person_named(str(data["to"]))
        previous = data.get("from") if isinstance(data.get("from"), str) else None
        role = str(data.get("role") or COMMANDER)
        return cards.ROLE, cards.role_card(incident, role, cards.Recipient.of(person), previous, links), None
    if event.kind == STATUS_CHANGED and data.get("to") == "resolved":
        return cards.RESOLVED, cards.resolved_card(incident, event.actor, event.text, links), None
    if event.kind == PAGE_REQUESTED and isinstance(data.get("target"), str):
        person, why = page_target(notifier, data["target"], str(data.get("by") or event.actor), event.at)
        if person is None:
            notifier.record(incident.id, ESCALATION_SKIPPED, why, event.at, f"page-gap-{event.event_id}")
            return None
        return cards.PAGED, cards.paged_card(incident, cards.Recipient.of(person), why, links), person
    return None


def page_target(notifier: Notifier, target: str, by: str, at: datetime) -> tuple[Person | None, str]:
    """Who `page <target>` reaches: the roster's primary on call now (overrides included), else the person."""
    try:
        roster = notifier.config.schedule().find(target)
    except ConfigurationError:
        roster = None
    if roster is None:
        person = notifier.person_named(target)
        if person not in notifier.config.people().people:  # a typo must not be recorded as someone reached
            return None, f"page {target} requested by {by} reached nobody: no roster or person of that name"
        return person, f"requested by {by}"
    layer = PRIMARY  # every roster has one (the schedule's validation makes sure)
    person, problem = notifier.on_call(roster.id, layer, at)
    if person is None:
        return None, f"page {target} requested by {by} reached nobody: {problem}"
    return person, f"{roster.id} {layer}, requested by {by}"


def _paged_on_request(
    notifier: Notifier, incident: Incident, event: TimelineEvent, person: Person, now: datetime
) -> None:
    why = event.data.get("by") or event.actor
    notifier.record(
        incident.id,
        ESCALATION_PAGED,
        f"paged {person.name} (requested by {why})",
        now,
        f"paged-{event.event_id}",
        {"person": person.name, "request": event.event_id},
        named_at=event.at,
    )
    notifier.add_notified(incident.id, [person.name], now)
