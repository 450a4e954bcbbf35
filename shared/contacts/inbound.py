"""What comes back from a page: an SMS reply (`ACK 7`), a delivery report, a one-time acknowledgement link. Each
acknowledgement is the same `ack` as in Teams (shared.chatops.intake): escalation stops, the timeline says how.

Who acknowledges: the person the directory lists for the sending phone number (an SMS, delivered by Event Grid with
the subscription's secret), or the person a link was signed for. A number nobody is listed for acknowledges nothing
and nothing is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from shared.catalog.services import Catalog
from shared.chatops import grammar
from shared.chatops.authorization import Refuse
from shared.chatops.intake import handle
from shared.chatops.rules import Decision, Said
from shared.contacts import ack_links, event_grid
from shared.contacts.ladder import acked_incident
from shared.contacts.ledger import ContactLedger
from shared.core.errors import Unauthorized
from shared.incidents.store import IncidentStore
from shared.incidents.timeline import CONTACT_DELIVERED
from shared.notifications.notifier import Notifier
from shared.oncall.people import Directory

log = logging.getLogger("firebell.contacts")


@dataclass
class Handled:
    """What one Event Grid delivery did: the acknowledgements made (their decisions, to announce) and counts."""

    decisions: list[Decision] = field(default_factory=list)
    reports: int = 0
    ignored: int = 0


def acknowledge(
    incident_id: str,
    person: str,
    via: str,
    said_id: str,
    at: datetime,
    store: IncidentStore,
    catalog: Catalog,
    refuse: Refuse,
    sent_at: datetime | None = None,
) -> Decision:
    said = Said(f"ack {incident_id}", person, at, said_id, sent_at, via=via)
    return handle(grammar.Ack(incident_id), said, store, catalog, "", refuse)


def on_events(
    batch: list[dict],
    now: datetime,
    notifier: Notifier,
    directory: Directory,
    catalog: Catalog,
    refuse_for: Callable[[str], Refuse],
) -> Handled:
    handled = Handled()
    ledger = ContactLedger(notifier.account)
    for event in batch:
        kind = event["eventType"]
        if kind == event_grid.SMS_RECEIVED:
            received = event_grid.sms_received(event)
            decision = _sms_reply(received, now, notifier, directory, catalog, refuse_for)
            if decision is None:
                handled.ignored += 1
            else:
                handled.decisions.append(decision)
        elif kind == event_grid.SMS_DELIVERY_REPORT:
            if _delivery_report(event_grid.delivery_report(event), now, notifier, ledger):
                handled.reports += 1
            else:
                handled.ignored += 1
        else:
            handled.ignored += 1  # other Communication Services events: not Firebell's
    return handled


def _sms_reply(
    received: event_grid.SmsReceived,
    now: datetime,
    notifier: Notifier,
    directory: Directory,
    catalog: Catalog,
    refuse_for: Callable[[str], Refuse],
) -> Decision | None:
    if notifier.settings.acs_from_number and received.to != notifier.settings.acs_from_number:
        log.warning("contacts: an SMS to another number was delivered here; ignored")
        return None
    person = directory.by_phone(received.sender)
    incident_id = acked_incident(received.text)
    if person is None or incident_id is None:
        log.info("contacts: SMS from %s ignored", "an unknown number" if person is None else person.name)
        return None
    refuse = refuse_for(person.name)
    return acknowledge(
        incident_id,
        person.name,
        "sms",
        received.message_id[:80],
        now,
        notifier.store,
        catalog,
        refuse,
        sent_at=received.received,
    )


def _delivery_report(
    report: event_grid.DeliveryReport, now: datetime, notifier: Notifier, ledger: ContactLedger
) -> bool:
    sent = ledger.sms(report.message_id)
    if sent is None:
        return False  # not an SMS of ours (or a forged id): nothing stored
    delivered = report.status.casefold() == "delivered"
    when = report.received.strftime("%H:%M:%S")
    text = f"SMS to {sent['person']} {'delivered' if delivered else report.status.lower()} {when} UTC"
    if not delivered and report.details:
        text += f" ({report.details})"
    notifier.record(
        sent["incident"],
        CONTACT_DELIVERED,
        text,
        now,
        f"sms-report-{report.message_id[:60]}-{report.status[:20]}",
        {"person": sent["person"], "status": report.status, "message_id": report.message_id},
        named_at=report.received,
    )
    return True


def link_grant(token: str, now: datetime, key: str, ledger: ContactLedger) -> ack_links.AckGrant:
    """The grant of a link still unused; Unauthorized when forged, expired or used."""
    grant = ack_links.verify(token, now, key.encode())
    if ledger.link_used(grant.nonce):
        raise Unauthorized("this acknowledgement link was used already")
    return grant


def acknowledge_by_link(
    token: str,
    now: datetime,
    key: str,
    ledger: ContactLedger,
    store: IncidentStore,
    catalog: Catalog,
    refuse_for: Callable[[str], Refuse],
) -> tuple[ack_links.AckGrant, Decision]:
    grant = link_grant(token, now, key, ledger)
    refuse = refuse_for(grant.person)
    decision = acknowledge(grant.incident, grant.person, "ack-link", grant.nonce[:40], now, store, catalog, refuse)
    if not ledger.use_link(grant.nonce, grant.incident, grant.person, now):
        raise Unauthorized("this acknowledgement link was used already")
    return grant, decision
