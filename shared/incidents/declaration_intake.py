"""Opening a declared incident in the store — from the API or Teams — exactly once per request.

A declaration carries a claim key (the API's Idempotency-Key, the Teams message): the key is claimed
insert-if-absent in the very transaction that numbers and creates the incident, so a retried or redelivered
declaration answers with the incident the first attempt opened instead of opening a second one, and no failure
spends a number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.catalog.services import Catalog
from shared.incidents.declaration import Declaration, declare
from shared.incidents.detection import service_group_key
from shared.incidents.drill import drill_group
from shared.incidents.incident import Incident, incident_number
from shared.incidents.paging import opening_page
from shared.incidents.store import ClaimTaken, GroupTaken, IncidentStore
from shared.incidents.timeline import TimelineEvent


@dataclass(frozen=True)
class Declared:
    incident: Incident
    event: TimelineEvent | None  # to announce; None when an earlier attempt declared and recorded it already
    created: bool


def open_declared(
    declaration: Declaration, claim_key: str | None, store: IncidentStore, catalog: Catalog, now: datetime
) -> Declared:
    service = catalog.service(declaration.service) or catalog.default
    # A declared incident collects its service's alerts when the group is free (a drill, the service's drill alerts).
    group = drill_group(service_group_key(service), declaration.drill)
    if claim_key is not None:
        claimed = store.claimed(claim_key)
        if claimed is not None:
            return _retried(declaration, claimed, store, group, now)

    def opening(in_group: str | None) -> Incident:
        return store.open_numbered(
            lambda number: declare(declaration, number, in_group, now)[0],
            page=lambda incident: opening_page(incident, now),
            claim=claim_key,
        )

    # The number, the incident, its page and the key's claim are one transaction: a failure spends no number.
    try:
        try:
            incident = opening(group)
        except GroupTaken:
            incident = opening(None)  # an open incident collects the service's alerts already: this one stands beside
    except ClaimTaken:
        claimed = store.claimed(claim_key or "")
        assert claimed is not None, "a claim that conflicted on insert must exist"
        return _retried(declaration, claimed, store, group, now)
    _, event = declare(declaration, incident.number, incident.group, now)
    store.append_event(event)
    return Declared(incident, event, created=True)


def _retried(
    declaration: Declaration, claimed: str, store: IncidentStore, group: str | None, now: datetime
) -> Declared:
    """A retry: the first attempt may have stopped before its event; the same facts name the same event, so this
    writes it only if it is missing, and then it is announced as the first attempt would have."""
    existing = store.get_incident(claimed)
    if existing is not None:
        _, event = declare(declaration, existing.number, existing.group, existing.declared_at)
        return Declared(existing, event if store.append_event(event) else None, created=False)
    # A claim of the first release, in the alerts table, whose attempt stopped before creating its incident: finish
    # it under the number it claimed.
    incident, event = declare(declaration, incident_number(claimed) or 0, group, now)
    try:
        created = store.open_incident(incident, page=opening_page(incident, now))
    except GroupTaken:
        incident = replace(incident, group=None)
        created = store.open_incident(incident, page=opening_page(incident, now))
    if not created:  # a concurrent retry created it first: its event is the record
        return Declared(store.get_incident(incident.id) or incident, None, created=False)
    store.append_event(event)
    return Declared(incident, event, created=True)
