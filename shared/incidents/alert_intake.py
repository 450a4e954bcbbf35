"""Alert intake: an Azure Monitor alert opens an incident, joins one, or settles one — race-safe and retry-safe.

Every write is insert-if-absent or ETag-guarded, and every timeline event id comes from the alert's own facts, so
concurrent or repeated deliveries of one alert give one incident and one 'alert fired' event. Decisions are made
by the pure functions in shared.detection; this module reads the store, asks, and writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.azure_monitor.alert import FIRED, RESOLVED, Alert
from shared.catalog.services import Catalog, Service
from shared.catalog.severity import label
from shared.core import telemetry
from shared.core.contention import attempts
from shared.core.errors import StorageUnavailable
from shared.incidents.detection import (
    Change,
    GroupPointer,
    alert_event,
    alert_event_id,
    group_key,
    may_join,
    on_alert_joined,
    on_alert_resolved,
    on_quiet,
    open_from_alert,
)
from shared.incidents.incident import OPEN, Incident, status_filter
from shared.incidents.paging import opening_page, retrigger_pages
from shared.incidents.store import AlertRecord, GroupTaken, IncidentChanged, IncidentStore
from shared.incidents.timeline import TimelineEvent


@dataclass(frozen=True)
class AlertIntake:
    alert_key: str
    incident_id: str | None  # None: the alert was logged only (below the minimum severity, or resolved unseen)
    deduplicated: bool  # the alert key was claimed before this delivery arrived (a repeat or a retry)
    events: tuple[TimelineEvent, ...]  # the timeline events this delivery added; empty when it changed nothing
    outcome: str  # opened | joined | duplicate | logged | resolved
    state_events: tuple[TimelineEvent, ...] = ()  # of events, those that changed the incident (severity, status, …)
    wrote_firing: bool = False  # this delivery appended the firing's event itself, and saved its effect

    @property
    def event_ids(self) -> tuple[str, ...]:
        return tuple(event.event_id for event in self.events)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of `events`, in order: what the change message says, so each consumer passes over a change it
        has nothing to do for (an opening is no readiness figure)."""
        return tuple(event.kind for event in self.events)

    @property
    def changed_incident(self) -> bool:
        """Opened the incident or changed more than its latest signal: what responders and trackers act on."""
        return self.outcome == "opened" or bool(self.state_events)


def receive_alert(alert: Alert, catalog: Catalog, store: IncidentStore, now: datetime) -> AlertIntake:
    firing = alert_event_id(alert) if alert.condition == FIRED else None
    finished = store.finished_firings.recall(firing) if firing else None
    if finished is not None:
        # What storage would answer, without asking: a finished firing's alert row stays bound to its incident
        # (rows are rebound only while a delivery is unfinished) and its event stays (taken back only by a failing
        # delivery). A storm's repeats cost no storage request in the process that finished them.
        return AlertIntake(alert.key, finished, deduplicated=True, events=(), outcome="duplicate")
    intake = _decide(alert, catalog, store, now)
    if firing and intake.incident_id is not None and intake.wrote_firing:
        # This delivery appended the event and saved its effect (a failure would have raised). Only ours: another
        # delivery's event (a 409 on it) may belong to one still in flight that takes its event back as it fails.
        store.finished_firings.remember(firing, intake.incident_id)
    return intake


def _decide(alert: Alert, catalog: Catalog, store: IncidentStore, now: datetime) -> AlertIntake:
    service = catalog.service_for(alert)
    severity = catalog.severity.for_alert(alert.severity, alert.budget_threshold)
    # A firing does not look for a first-release row, keeping a new alert at one read: an alert that fired before
    # the upgrade and fires again is taken for a new one and joins its open incident as one more signal; a
    # resolution still finds the old row.
    record = store.find_alert(alert.key, first_release=alert.condition == RESOLVED)
    if alert.condition == RESOLVED:
        return _resolve(alert, record, catalog, store, now)
    if record is None:
        claim: Claim = lambda ident, detail: store.claim_alert(alert.key, ident, FIRED, detail)  # noqa: E731
        return _first(alert, service, severity, store, now, claim, catalog)
    if record.incident_id is None and record.condition == RESOLVED:
        return _fired_after_its_resolution(record, alert, service, severity, catalog, store, now)
    return _repeat(record, alert, service, severity, store, now)


def measure(intake: AlertIntake, alert: Alert) -> None:
    """The operator's alert figures for one delivery: received (by outcome), deduplicated, opened."""
    # Low-cardinality attributes only: the payload's severity and monitoring service (cut), never its text.
    attributes = {"severity": alert.severity or "none", "monitoring_service": alert.monitoring_service[:40]}
    telemetry.count(telemetry.ALERTS_RECEIVED, outcome=intake.outcome, condition=alert.condition, **attributes)
    if intake.deduplicated:
        telemetry.count(telemetry.ALERTS_DEDUPLICATED, outcome=intake.outcome, **attributes)
    if intake.outcome == "opened":
        telemetry.count(telemetry.ALERTS_OPENED, **attributes)


# Binds an alert key to an incident (None: logged only); False when another delivery bound it first.
Claim = Callable[[str | None, dict[str, object]], bool]


def _first(
    alert: Alert, service: Service, severity: int, store: IncidentStore, now: datetime, claim: Claim, catalog: Catalog
) -> AlertIntake:
    """The first delivery of an alert: join its group's open incident, open one, or log it when too mild."""
    group = group_key(service, alert)
    found = store.find_group(group) if group else None
    if found is not None and may_join(found[0], service, alert):
        if not claim(found[0].incident_id, _detail(alert, service, severity)):
            return receive_alert(alert, catalog, store, now)  # bound meanwhile: decide as the repeat it is
        return _joined(found[0].incident_id, alert, severity, store, now, repeat=False)
    if not service.opens_incident(severity):
        reason = f"{label(severity)} is milder than service {service.id}'s minimum {label(service.min_severity)}"
        if not claim(None, _detail(alert, service, severity, logged=reason)):
            return receive_alert(alert, catalog, store, now)  # bound meanwhile: decide as the repeat it is
        return AlertIntake(alert.key, None, deduplicated=False, events=(), outcome="logged")
    if group is not None:
        return _open_grouped(alert, service, severity, group, found, store, now, claim, catalog)
    incident, event = open_from_alert(alert, service, severity, store.allocate_number(), group, now)
    if not claim(incident.id, _detail(alert, service, severity)):
        # A concurrent delivery claimed the key first; its incident wins and our number stays unused (a gap).
        return receive_alert(alert, catalog, store, now)
    return _open(incident, event, found, alert, severity, store, now, repeat=False)


def _open_grouped(
    alert: Alert,
    service: Service,
    severity: int,
    group: str,
    found: tuple[GroupPointer, str] | None,
    store: IncidentStore,
    now: datetime,
    claim: Claim,
    catalog: Catalog,
) -> AlertIntake:
    """Open the incident that collects a group: numbered, created and holding the group in one transaction, then
    claim the alert for it. The group pointer keeps concurrent deliveries from opening a second incident: whoever
    loses the race finds the winner's incident and joins it, so no number is spent for nothing."""
    try:
        incident = store.open_numbered(
            lambda number: open_from_alert(alert, service, severity, number, group, now)[0],
            found[1] if found else None,
            page=lambda opened: opening_page(opened, now),
        )
    except GroupTaken:
        return receive_alert(alert, catalog, store, now)  # decide again: the group's incident exists now
    if not claim(incident.id, _detail(alert, service, severity)):
        return receive_alert(alert, catalog, store, now)  # another delivery of this alert joined it first
    event = alert_event(incident.id, alert, severity, now)
    added = store.append_event(event)
    return AlertIntake(alert.key, incident.id, False, (event,) if added else (), "opened", wrote_firing=added)


def _open(
    incident: Incident,
    event: TimelineEvent,
    found: tuple[GroupPointer, str] | None,
    alert: Alert,
    severity: int,
    store: IncidentStore,
    now: datetime,
    *,
    repeat: bool,
) -> AlertIntake:
    """Create the claimed incident, taking over its alert group (`found`: the expired pointer read before).

    When another incident took the group meanwhile, the alert joins that one and our number stays unused.
    """
    try:
        store.open_incident(incident, found[1] if found else None, opening_page(incident, now))
    except GroupTaken:
        current = store.find_group(incident.group) if incident.group else None
        if current is not None:
            store.rebind_alert(alert.key, current[0].incident_id)
            return _joined(current[0].incident_id, alert, severity, store, now, repeat=repeat)
        alone = replace(incident, group=None)  # the other incident closed meanwhile: stand alone
        store.open_incident(alone, page=opening_page(alone, now))
    added = store.append_event(event)
    return AlertIntake(alert.key, incident.id, repeat, (event,) if added else (), "opened", wrote_firing=added)


def _joined(
    ident: str, alert: Alert, severity: int, store: IncidentStore, now: datetime, *, repeat: bool
) -> AlertIntake:
    event = alert_event(ident, alert, severity, now)
    added = (event,) if store.append_event(event) else ()
    # Always a guarded write (the latest signal at least), so a resolution deciding concurrently sees this alert.
    try:
        changed = _apply(store, ident, lambda incident: on_alert_joined(incident, alert, severity, now), now)
    except Exception:
        if added:  # the retry must not find this delivery done and stop as a duplicate: it joins again
            store.take_back([event])
        raise
    return AlertIntake(alert.key, ident, repeat, added + changed, "joined", changed, wrote_firing=bool(added))


def _fired_after_its_resolution(
    record: AlertRecord,
    alert: Alert,
    service: Service,
    severity: int,
    catalog: Catalog,
    store: IncidentStore,
    now: datetime,
) -> AlertIntake:
    """Its resolution reached us first (Azure Monitor's retries can reorder deliveries): open or join as the firing
    would have, then apply the resolution that was waiting — the incident records both and settles."""
    claim: Claim = lambda ident, _detail: store.bind_alert(record, ident, FIRED)  # noqa: E731
    opened = _first(alert, service, severity, store, now, claim, catalog)
    resolution = replace(alert, condition=RESOLVED, resolved_at=record.resolved_at or alert.resolved_at)
    settled = _resolve(resolution, store.find_alert(alert.key), catalog, store, now)
    return replace(
        opened,
        events=opened.events + settled.events,
        state_events=opened.state_events + settled.state_events,
    )


def _repeat(
    record: AlertRecord, alert: Alert, service: Service, severity: int, store: IncidentStore, now: datetime
) -> AlertIntake:
    """A repeated delivery. The one that claimed the key may have stopped (a crash, a timeout) before writing the
    incident, its event or the join's effect: finish its work. The event is written only after the incident
    exists, so when it is there nothing is missing — the common repeat costs two operations (none in the process
    that finished the delivery: receive_alert).
    """
    if record.incident_id is None:
        return AlertIntake(alert.key, None, deduplicated=True, events=(), outcome="logged")
    event = alert_event(record.incident_id, alert, severity, now)
    if not store.append_event(event):
        return AlertIntake(alert.key, record.incident_id, deduplicated=True, events=(), outcome="duplicate")
    if store.get_incident(record.incident_id) is not None:
        try:
            changed = _apply(store, record.incident_id, lambda found: on_alert_joined(found, alert, severity, now), now)
        except Exception:
            store.take_back([event])  # unfinished: the next retry must not stop as a duplicate either
            raise
        return AlertIntake(
            alert.key, record.incident_id, True, (event, *changed), "duplicate", changed, wrote_firing=True
        )
    # The claimed incident was never created. Decide as the first delivery would have: join the group's open
    # incident if there is one, else create the claimed incident.
    group = group_key(service, alert)
    found = store.find_group(group) if group else None
    if found is not None and may_join(found[0], service, alert):
        store.rebind_alert(alert.key, found[0].incident_id)
        return _joined(found[0].incident_id, alert, severity, store, now, repeat=True)
    number = int(record.incident_id.removeprefix("INC-"))
    incident, event = open_from_alert(alert, service, severity, number, group, now)
    opened = _open(incident, event, found, alert, severity, store, now, repeat=True)
    return replace(opened, events=opened.events or (event,))


def _resolve(
    alert: Alert, record: AlertRecord | None, catalog: Catalog, store: IncidentStore, now: datetime
) -> AlertIntake:
    if record is None:
        # Resolved before its firing reached us: keep the resolution; the firing, when it comes, applies it.
        detail = {"resolved_before_fired": True, "rule": alert.rule}
        if store.claim_alert(alert.key, None, RESOLVED, detail, resolved_at=alert.resolved_at or now):
            return AlertIntake(alert.key, None, deduplicated=False, events=(), outcome="logged")
        record = store.find_alert(alert.key)  # the firing claimed it meanwhile
        assert record is not None, "an alert key that conflicted on insert must exist"
    if record.incident_id is None:
        # Logged only (too mild), or its resolution is already waiting: note it on the alert log, page nobody.
        if record.condition != RESOLVED:
            store.mark_alert(alert.key, RESOLVED)
        return AlertIntake(alert.key, None, deduplicated=True, events=(), outcome="logged")
    ident = record.incident_id
    if record.condition == RESOLVED:
        # Marked only once the incident was settled below: nothing is left to do for this repeat.
        return AlertIntake(alert.key, ident, deduplicated=True, events=(), outcome="resolved")
    if store.get_incident(ident) is None:
        # The firing delivery claimed the alert and is still opening its incident: Azure Monitor retries a 503.
        raise StorageUnavailable(f"{ident} is still being opened; retry the resolution")
    event = alert_event(ident, alert, catalog.severity.for_alert(alert.severity, alert.budget_threshold), now)
    added = store.append_event(event)

    def settle(incident: Incident) -> Change | None:
        # The timeline is read on every attempt: an alert that joined meanwhile keeps the incident open.
        service = catalog.service(incident.service) or catalog.default
        return on_alert_resolved(incident, service, store.timeline(ident), now)

    changed = _apply(store, ident, settle, now)
    store.mark_alert(alert.key, RESOLVED)  # last: until then every redelivery decides again
    events = ((event,) if added else ()) + changed
    return AlertIntake(alert.key, ident, not events, events, "resolved", changed)


def settle_quiet(catalog: Catalog, store: IncidentStore, now: datetime) -> list[tuple[str, tuple[str, ...]]]:
    """Move to monitoring every open incident whose firing alerts are all stateless and quiet (detection.on_quiet);
    returns (incident, events) of each one moved. Reads the open incidents (few), and the timeline of those whose
    last alert is older than the shortest quiet period; ETag-guarded like every alert decision."""
    shortest = min(service.stateless_quiet_minutes for service in (*catalog.services, catalog.default))
    moved = []
    for incident in store.list_incidents(status_filter(OPEN)):
        if incident.last_alert_at is None or now - incident.last_alert_at < timedelta(minutes=shortest):
            continue

        def settle(found: Incident) -> Change | None:
            service = catalog.service(found.service) or catalog.default
            return on_quiet(found, service, store.timeline(found.id), now)

        changed = _apply(store, incident.id, settle, now)
        if changed:
            moved.append((incident.id, tuple(event.event_id for event in changed)))
    return moved


def _apply(
    store: IncidentStore, ident: str, decide: Callable[[Incident], Change | None], now: datetime
) -> tuple[TimelineEvent, ...]:
    """Read, decide, write with the ETag; on a concurrent change read and decide again.

    Events before state: a retry after a failed save decides the same change from the same facts, so the same event
    ids, and finds its events written. Events of a change that lost its race are taken back before deciding again,
    so the timeline never tells of a change that did not happen. Pages the change makes due go with the state.
    """
    written: list[TimelineEvent] = []  # by an attempt that lost its race
    for _ in attempts():
        stored = store.load_incident(ident)
        if stored is None:
            return ()
        change = decide(stored.incident)
        if change is None:
            # Nothing left to change: a twin delivery saved this very change (keep its events), or it became moot.
            return ()
        written = store.recorded_first(change.events, written)
        pages = retrigger_pages(ident, change.events, now)
        try:
            store.save_incident(change.incident, stored.etag, was_open=stored.incident.is_open, pages=pages)
        except IncidentChanged:
            continue
        return tuple(change.events)
    raise StorageUnavailable(f"{ident} kept changing; retry later")


def _detail(alert: Alert, service: Service, severity: int, logged: str | None = None) -> dict[str, object]:
    detail: dict[str, object] = {
        "rule": alert.rule,
        "azure_severity": alert.severity,
        "severity": severity,
        "monitoring_service": alert.monitoring_service,
        "service": service.id,
        "fired_at": alert.fired_at.isoformat(),
        "summary": alert.summary,
        "targets": list(alert.targets),
    }
    if logged:
        detail["logged_only"] = logged
    return detail
