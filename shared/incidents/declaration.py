"""People and tools declare incidents: a support-desk report, an SLO tool, a person. Pure: body in, incident out.

The body is checked strictly: unknown fields, wrong types and over-long text are refused with a detail naming the
field, so a typo in an integration never silently drops the customer impact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.catalog.services import Catalog
from shared.catalog.severity import parse_level
from shared.core.errors import ConfigurationError, InvalidInput
from shared.core.json_body import text_field
from shared.core.timeutil import parse_instant
from shared.incidents.drill import labelled
from shared.incidents.incident import SOURCE_CUSTOMER, SOURCE_PERSON, SOURCE_SLO, TRIGGERED, Incident, incident_id
from shared.incidents.timeline import INCIDENT_DECLARED, TimelineEvent, event_id

DECLARABLE_SOURCES = (SOURCE_CUSTOMER, SOURCE_PERSON, SOURCE_SLO)
_LIMITS = {"title": 200, "description": 4000, "reporter": 200, "customer_impact": 2000, "service": 100}
_FIELDS = {*_LIMITS, "severity", "source", "components", "detected_at", "drill", "channel"}
_SOURCE_WORDS = {SOURCE_CUSTOMER: "customer report", SOURCE_PERSON: "declared by a person", SOURCE_SLO: "SLO tooling"}


@dataclass(frozen=True)
class Declaration:
    title: str
    severity: int
    reporter: str
    service: str
    components: tuple[str, ...]
    source: str
    description: str
    customer_impact: str
    detected_at: datetime | None
    drill: bool = False  # an exercise (shared.incidents.drill)
    channel: bool = False  # a Teams channel asked for, whatever the severity (shared.channels)


def parse_declaration(document: dict[str, Any], catalog: Catalog, now: datetime) -> Declaration:
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}; accepted fields: {', '.join(sorted(_FIELDS))}")
    service_id = _text(document, "service", required=False) or catalog.default.id
    service = catalog.service(service_id)
    if service is None:
        known = ", ".join([s.id for s in catalog.services] + [catalog.default.id])
        raise InvalidInput(f"service {service_id!r} is not in the service catalog; known services: {known}")
    try:
        severity = parse_level(document.get("severity"), "severity")
    except ConfigurationError as problem:
        raise InvalidInput(problem.detail) from None
    drill = document.get("drill", False)
    if not isinstance(drill, bool):
        raise InvalidInput(f"drill must be true or false, got {str(drill)[:40]!r}")
    channel = document.get("channel", False)
    if not isinstance(channel, bool):
        raise InvalidInput(f"channel must be true or false, got {str(channel)[:40]!r}")
    source = document.get("source", SOURCE_CUSTOMER)
    if source not in DECLARABLE_SOURCES:
        raise InvalidInput(f"source must be one of {', '.join(DECLARABLE_SOURCES)}, got {source!r}")
    return Declaration(
        title=_text(document, "title"),
        severity=severity,
        reporter=_text(document, "reporter"),
        service=service.id,
        components=_components(document, catalog) or (service.component,),
        source=source,
        description=_text(document, "description", required=False),
        customer_impact=_text(document, "customer_impact", required=False),
        detected_at=_detected_at(document, now),
        drill=drill,
        channel=channel,
    )


def declare(declaration: Declaration, number: int, group: str | None, now: datetime) -> tuple[Incident, TimelineEvent]:
    """The declared incident, collecting its service's alert group (when free) so related alerts join it."""
    ident = incident_id(number)
    how = _SOURCE_WORDS[declaration.source]
    incident = Incident(
        id=ident,
        number=number,
        title=declaration.title,
        service=declaration.service,
        components=declaration.components,
        severity=declaration.severity,
        status=TRIGGERED,
        source=declaration.source,
        source_detail=f"{declaration.reporter} ({how})",
        detected_at=declaration.detected_at or now,
        started_at=declaration.detected_at or now,  # until someone knows better (milestone … started …)
        declared_at=now,
        updated_at=now,
        description=declaration.description,
        customer_impact=declaration.customer_impact,
        group=group,
        drill=declaration.drill,
    )
    event = TimelineEvent(
        incident_id=ident,
        event_id=event_id(now, "declared"),
        kind=INCIDENT_DECLARED,
        at=now,
        recorded_at=now,
        actor=declaration.reporter,
        source="api",
        text=labelled(
            f"Declared by {declaration.reporter} ({how}), SEV{declaration.severity}: {declaration.title}",
            declaration.drill,
        ),
        data={
            "customer_impact": declaration.customer_impact,
            "components": list(declaration.components),
            **({"drill": True} if declaration.drill else {}),
            **({"channel": True} if declaration.channel else {}),
        },
    )
    return incident, event


def _text(document: dict[str, Any], name: str, *, required: bool = True) -> str:
    return text_field(document, name, _LIMITS[name], required=required)


def _components(document: dict[str, Any], catalog: Catalog) -> tuple[str, ...]:
    value = document.get("components")
    if value is None:
        return ()
    known = catalog.components()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput("components must be a list of component names")
    for name in value:
        if name not in known:
            raise InvalidInput(f"component {name[:80]!r} is not on the status page; known: {', '.join(known)}")
    return tuple(dict.fromkeys(value))


def _detected_at(document: dict[str, Any], now: datetime) -> datetime | None:
    value = document.get("detected_at")
    if value is None:
        return None
    try:
        moment = parse_instant(value) if isinstance(value, str) else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise InvalidInput(f"detected_at must be an ISO 8601 time from 1970 on, got {str(value)[:40]!r}")
    if moment > now:
        raise InvalidInput("detected_at is in the future")
    return moment
