"""Opening a declared incident in the store — from the API or Teams — exactly once per request.

A declaration carries a claim key (the API's Idempotency-Key, the Teams message): the key is claimed
insert-if-absent like an alert key, so a retried or redelivered declaration answers with the incident the first
attempt opened instead of opening a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.catalog.services import Catalog
from shared.incidents.declaration import Declaration, declare
from shared.incidents.detection import service_group_key
from shared.incidents.incident import Incident, incident_number
from shared.incidents.paging import opening_page
from shared.incidents.store import GroupTaken, IncidentStore
from shared.incidents.timeline import TimelineEvent

DECLARED = "Declared"


@dataclass(frozen=True)
class Declared:
    incident: Incident
    event: TimelineEvent | None  # to announce; None when an earlier attempt declared and recorded it already
    created: bool


def open_declared(
    declaration: Declaration, claim_key: str | None, store: IncidentStore, catalog: Catalog, now: datetime
) -> Declared:
    service = catalog.service(declaration.service) or catalog.default
    group = service_group_key(service)  # a declared incident collects its service's alerts when the group is free
    incident, event = declare(declaration, store.allocate_number(), group, now)
    if claim_key is not None and not store.claim_alert(claim_key, incident.id, DECLARED, {"by": declaration.reporter}):
        record = store.find_alert(claim_key)
        assert record is not None and record.incident_id, "a claim that conflicted on insert must exist"
        existing = store.get_incident(record.incident_id)
        if existing is not None:
            # A retry: the first attempt may have stopped before its event; the same facts name the same event, so
            # this writes it only if it is missing, and then it is announced as the first attempt would have.
            _, event = declare(declaration, existing.number, existing.group, existing.declared_at)
            return Declared(existing, event if store.append_event(event) else None, created=False)
        # The first attempt stopped before creating its incident: finish it under the number it claimed.
        incident, event = declare(declaration, incident_number(record.incident_id) or incident.number, group, now)
    try:
        created = store.open_incident(incident, page=opening_page(incident, now))
    except GroupTaken:
        # An open incident collects the service's alerts already; this one stands beside it.
        incident = replace(incident, group=None)
        created = store.open_incident(incident, page=opening_page(incident, now))
    if not created:  # a concurrent retry created it first: its event is the record
        return Declared(store.get_incident(incident.id) or incident, None, created=False)
    store.append_event(event)
    return Declared(incident, event, created=True)
