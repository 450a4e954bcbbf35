"""The `readiness` queue: keep each incident's summary row in step with it. A change message of a resolved incident
(its resolution, a corrected milestone, a follow-up or severity change after it) writes its summary; one of a
reopened incident takes the row out until it resolves again. Idempotent: the same incident state gives the same row,
and a redelivery or an older view never overwrites a newer one (shared.readiness.store)."""

from __future__ import annotations

import logging
from collections.abc import Collection

from shared.catalog.services import Catalog
from shared.core.errors import InvalidInput
from shared.incidents.changes import ChangeMessage
from shared.incidents.store import IncidentStore
from shared.oncall.people import Directory
from shared.readiness.store import ReadinessStore
from shared.readiness.summary import summarise

log = logging.getLogger("firebell.readiness")

WRITTEN, REMOVED, UNCHANGED = "written", "removed", "unchanged"


def on_change(
    body: bytes | str,
    incidents: IncidentStore,
    readiness: ReadinessStore,
    catalog: Catalog,
    people: Directory,
    rosters: Collection[str] = (),
) -> str:
    """What the message did to the incident's row: written, removed or unchanged."""
    try:
        change = ChangeMessage.parse(body)
    except InvalidInput as problem:
        log.error("readiness: message dropped: %s", problem.detail)
        return UNCHANGED  # retrying cannot make it readable
    incident = incidents.get_incident(change.incident)
    if incident is None:
        log.warning("readiness: %s does not exist", change.incident)
        return UNCHANGED
    if incident.drill:
        return UNCHANGED  # an exercise: its figures are its drill report's, never the response metrics'
    if incident.is_open:
        removed = readiness.remove(incident.id, incident.declared_at, incident.version)
        return REMOVED if removed else UNCHANGED
    service = catalog.service(incident.service) or catalog.default
    summary = summarise(incident, incidents.timeline(incident.id), service, people, rosters)
    written = readiness.save(summary)
    log.info("readiness: %s summary %s", incident.id, "written" if written else "already current")
    return WRITTEN if written else UNCHANGED
