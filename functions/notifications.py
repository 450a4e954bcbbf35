"""The `notifications` queue: tell the incident's Teams channel what changed, as Adaptive Cards.

Consumes the change messages every HTTP function enqueues (`{"incident", "event", "events"}`) and, per listed
event: the incident's opening event starts its escalation (step 0 of round 1 runs here and pages the on-call
responder; later steps are delayed messages on the `escalations` queue); an acknowledgement, a commander or
communications role assigned or handed off, and the resolution each post a card; `page <roster|person>` from Teams
pages that roster's primary or that person.

Exactly-once effect, at-least-once delivery: a ledger row per (incident, event, card kind) is checked before posting
and written after the post succeeded. A crash between the post and the ledger write (or two deliveries of one
message racing) can post a card twice; a card is never lost. Workflows failures are retried inside the call
(429 after its Retry-After); then the message is delivered again, and on its last delivery the timeline says
"notification failed: <reason>" before it goes to the poison queue.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import azure.functions as func

from functions import context
from functions.change_queues import RESPONDER_KINDS, forward, message_kinds
from shared.core import storage
from shared.core.contention import attempts
from shared.core.errors import ConfigurationError, InvalidInput
from shared.core.links import is_web_url
from shared.core.timeutil import utc_now
from shared.incidents.incident import TRIGGERED, Incident
from shared.incidents.roles import COMMANDER, COMMS
from shared.incidents.store import IncidentChanged, IncidentStore
from shared.incidents.timeline import (
    ACKNOWLEDGED,
    ALERT_FIRED,
    ESCALATION_PAGED,
    ESCALATION_SKIPPED,
    INCIDENT_DECLARED,
    NOTIFICATION_FAILED,
    NOTIFICATIONS_NOT_CONFIGURED,
    PAGE_REQUESTED,
    ROLE_ASSIGNED,
    ROLE_HANDED_OFF,
    STATUS_CHANGED,
    TimelineEvent,
    event_id,
)
from shared.notifications import cards
from shared.notifications.ledger import EscalationLedger
from shared.notifications.policy import FIRST, StepMessage, retriggered_series
from shared.oncall.people import Person
from shared.oncall.schedule import PRIMARY
from shared.teams.workflow import (
    WorkflowError,
    WorkflowRejected,
    WorkflowSender,
    WorkflowUnavailable,
)

bp = func.Blueprint()
log = logging.getLogger("firebell.notifications")

ESCALATIONS_QUEUE, NOTIFICATIONS_QUEUE = "escalations", "notifications"
MAX_DEFERRALS = 5  # Workflows throttling longer than five of its own Retry-After pauses is an outage: poison
MAX_VISIBILITY_SECONDS = 7 * 24 * 3600 - 60  # a queue message may stay hidden at most seven days
MAX_DEQUEUE_COUNT = 5  # host.json extensions.queues.maxDequeueCount: the last delivery before the poison queue
FIREBELL = "Firebell"
OPENING_KINDS = (ALERT_FIRED, INCIDENT_DECLARED)
ANNOUNCED_ROLES = (COMMANDER, COMMS)
SENT, ALREADY_SENT, REFUSED = "sent", "already sent", "refused"  # what send_once did

sender = WorkflowSender()  # one per process: its limiter keeps every thread under the Workflows rate


@dataclass(frozen=True)
class ChangeMessage:
    incident: str
    events: tuple[str, ...]

    @classmethod
    def parse(cls, body: bytes) -> ChangeMessage:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("a change message must be JSON") from None
        if not isinstance(document, dict) or not isinstance(document.get("incident"), str):
            raise InvalidInput("a change message needs an 'incident' id")
        events = document.get("events")
        if events is None:  # the first release's messages named only the last event
            events = [document["event"]] if isinstance(document.get("event"), str) else []
        if not isinstance(events, list) or not all(isinstance(item, str) for item in events):
            raise InvalidInput("a change message's 'events' must be a list of event ids")
        return cls(document["incident"], tuple(events))


class Notifier:
    """Posting cards to the right channel once each, and recording on the timeline what people must know about it
    (not configured, failed). Shared by the notifications and escalations functions."""

    def __init__(
        self,
        store: IncidentStore,
        ledger: EscalationLedger,
        workflow: WorkflowSender,
        settings_url: str,
        status_page_url: str,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.workflow = workflow
        self.settings_url = settings_url
        self.status_page_url = status_page_url

    @classmethod
    def from_context(cls, workflow: WorkflowSender | None = None) -> Notifier:
        settings = context.settings()
        return cls(
            context.incident_store(),
            EscalationLedger(storage.account()),
            workflow or sender,
            settings.teams_workflow_url,
            settings.status_page_url,
        )

    # --- where cards go -------------------------------------------------------------------------------------------
    def roster_of(self, incident: Incident) -> Any | None:
        service = context.catalog().service(incident.service)
        if service is None or service.roster is None:
            return None
        try:
            return context.schedule().find(service.roster)
        except ConfigurationError as problem:
            log.error("%s: on-call schedule invalid, using TEAMS_WORKFLOW_URL: %s", incident.id, problem.detail)
            return None

    def channel(self, incident: Incident) -> str | None:
        """The roster's own Workflows webhook, else TEAMS_WORKFLOW_URL; None when neither is an http(s) URL."""
        return channel_url(self.roster_of(incident), self.settings_url, escalation=False)

    def escalation_channel(self, incident: Incident) -> str | None:
        return channel_url(self.roster_of(incident), self.settings_url, escalation=True)

    def links(self, incident: Incident) -> cards.IncidentLinks:
        service = context.catalog().service(incident.service)
        return cards.incident_links(incident, service.runbook_url if service else None, self.status_page_url)

    # --- sending --------------------------------------------------------------------------------------------------
    def send_once(
        self, incident: Incident, key: str, url: str, message: dict[str, Any], now: datetime, dequeue_count: int
    ) -> str:
        """Post unless the ledger has it: SENT, ALREADY_SENT, or REFUSED (a 4xx no retry can fix: recorded on the
        timeline and in the ledger, never tried again). Other failures raise WorkflowError, after writing them on
        the timeline when this is the message's last delivery."""
        if self.ledger.sent(incident.id, key):
            return ALREADY_SENT
        try:
            self.workflow.post(url, cards.encode(message))
        except WorkflowRejected as refusal:
            self.failed(incident, key, refusal.detail, now)
            self.ledger.record_sent(incident.id, key, now, {"outcome": REFUSED, "reason": refusal.detail[:500]})
            return REFUSED
        except WorkflowError as failure:
            if dequeue_count >= MAX_DEQUEUE_COUNT:
                self.failed(incident, key, failure.detail, now)
            raise
        self.ledger.record_sent(incident.id, key, now, {"outcome": SENT})
        return SENT

    def failed(self, incident: Incident, key: str, reason: str, now: datetime) -> None:
        self.record(incident.id, NOTIFICATION_FAILED, f"notification failed: {reason}", now, f"notify-failed-{key}")

    def not_configured(self, incident: Incident, now: datetime) -> None:
        """Once per incident: the timeline says cards cannot be sent and how to fix it."""
        text = (
            "notifications not configured: set TEAMS_WORKFLOW_URL (or the roster's workflow_url) to a Teams "
            "Workflows webhook to post cards"
        )
        event = TimelineEvent(
            incident_id=incident.id,
            event_id=event_id(incident.declared_at, "notifications-not-configured"),
            kind=NOTIFICATIONS_NOT_CONFIGURED,
            at=now,
            recorded_at=now,
            actor=FIREBELL,
            source="notifications",
            text=text,
        )
        self.store.append_event(event)

    def record(
        self,
        incident_id: str,
        kind: str,
        text: str,
        now: datetime,
        discriminator: str,
        data: dict[str, Any] | None = None,
        named_at: datetime | None = None,
    ) -> TimelineEvent:
        """Append an event; `named_at` (a time the fact is known by, e.g. a step's due time) keeps a redelivery's
        event id the same, so it is written once."""
        event = TimelineEvent(
            incident_id=incident_id,
            event_id=event_id(named_at or now, discriminator[:180]),
            kind=kind,
            at=now,
            recorded_at=now,
            actor=FIREBELL,
            source="notifications",
            text=text,
            data=data or {},
        )
        self.store.append_event(event)
        return event

    def add_notified(self, incident_id: str, names: Sequence[str], now: datetime) -> Incident | None:
        """Keep "who knows" current: add the people to Incident.notified (ETag-guarded, retried on conflict)."""
        for _ in attempts():
            stored = self.store.load_incident(incident_id)
            if stored is None:
                return None
            incident = stored.incident
            missing = [name for name in dict.fromkeys(names) if name not in incident.notified]
            if not missing:
                return incident
            changed = incident.changed(now, notified=(*incident.notified, *missing))
            try:
                self.store.save_incident(changed, stored.etag, was_open=incident.is_open)
            except IncidentChanged:
                continue
            return changed
        raise IncidentChanged(incident_id)


def channel_url(roster: Any | None, settings_url: str, *, escalation: bool) -> str | None:
    """Where a card goes: the roster's escalation channel (for "nobody acknowledged"), its own channel, else
    TEAMS_WORKFLOW_URL. None when nothing usable is configured."""
    candidates = [getattr(roster, "escalation_workflow_url", None)] if escalation else []
    candidates += [getattr(roster, "workflow_url", None), settings_url]
    return next((url for url in candidates if url and is_web_url(url)), None)


def person_named(name: str) -> Person:
    return context.people().named(name)


# --- the queue function ---------------------------------------------------------------------------------------------


@bp.function_name("notifications")
@bp.queue_trigger(arg_name="message", queue_name="notifications", connection="AzureWebJobsStorage")
def on_change(message: func.QueueMessage) -> None:
    try:
        change = ChangeMessage.parse(message.get_body())
    except InvalidInput as problem:
        log.error("notifications: message %s dropped: %s", message.id, problem.detail)
        return  # retrying cannot make it readable
    # First, so a Teams outage never holds up the status page or Boards.
    body = message.get_body().decode()
    forward(body)
    kinds = message_kinds(body)
    if kinds is not None and not kinds & RESPONDER_KINDS:
        return  # e.g. a severity change: Boards acts on it, nobody is paged or told by card
    holder = holder_of(body, message.id or "")
    try:
        notify(change, message.dequeue_count or 1, utc_now(), message_id=holder)
    except WorkflowUnavailable as busy:
        if not defer(NOTIFICATIONS_QUEUE, body, holder, busy.retry_after):
            raise


def holder_of(body: str, message_id: str) -> str:
    """Whose claims a message works under: its own id, or that of the message it was deferred from."""
    held = json.loads(body).get("holder")
    return held if isinstance(held, str) and held else message_id


def defer(queue: str, body: str, holder: str, retry_after: float | None) -> bool:
    """Workflows asked for more patience than a redelivery has (Retry-After beyond what is waited out in-process):
    the same message again, visible after that pause, under the same holder so its claims carry on. False — the
    caller lets the queue redeliver, and poison in the end — without a Retry-After or after MAX_DEFERRALS."""
    document = json.loads(body)
    deferrals = document.get("deferrals", 0)
    if retry_after is None or not isinstance(deferrals, int) or deferrals >= MAX_DEFERRALS:
        return False
    document.update(holder=holder, deferrals=deferrals + 1)
    delay = min(math.ceil(retry_after), MAX_VISIBILITY_SECONDS)
    storage.account().queue(queue).send_message(json.dumps(document), visibility_timeout=delay)
    log.warning("%s: Workflows asked to wait %.0f s; message deferred (holder %s)", queue, retry_after, holder)
    return True


def notify(
    change: ChangeMessage,
    dequeue_count: int,
    now: datetime,
    notifier: Notifier | None = None,
    message_id: str = "",
) -> list[str]:
    """Act on the listed events of one change; returns the ledger keys of the cards posted now."""
    notifier = notifier or Notifier.from_context()
    stored = notifier.store.load_incident(change.incident)
    if stored is None:
        log.warning("notifications: %s does not exist; nothing to tell", change.incident)
        return []
    incident = stored.incident
    # Point reads of the listed events and the first one: a long-running incident's timeline is not read each time.
    by_id = {event.event_id: event for event in notifier.store.events(incident.id, change.events)}
    opening = notifier.store.first_event(incident.id)
    if opening is not None and opening.kind not in OPENING_KINDS:  # something older joined it: look further
        opening = next((e for e in notifier.store.timeline(incident.id) if e.kind in OPENING_KINDS), None)
    posted: list[str] = []
    for ident in dict.fromkeys(change.events):
        event = by_id.get(ident)
        if event is None:
            log.warning("notifications: %s has no event %s", incident.id, ident)
            continue
        if opening is not None and event.event_id == opening.event_id:
            start_escalation(incident, message_id or f"opening-{event.event_id}", dequeue_count, now, notifier)
            continue
        if event.kind == STATUS_CHANGED and event.data.get("to") == TRIGGERED:
            # An alert fired again after the incident was resolved or being monitored, and nobody has acknowledged
            # it: the escalation that stopped then starts over, as a series of its own.
            series = retriggered_series(event.event_id)
            holder = message_id or f"retrigger-{event.event_id}"
            start_escalation(incident, holder, dequeue_count, now, notifier, series=series, due=event.at)
            continue
        built = card_for(event, incident, notifier)
        if built is None:
            continue
        kind, message, paged = built
        url = notifier.channel(incident)
        if url is None:
            notifier.not_configured(incident, now)
            return posted
        key = f"card-{kind}-{event.event_id}"
        sent = notifier.send_once(incident, key, url, message, now, dequeue_count)
        if sent == SENT:
            posted.append(key)
            log.info("notifications: %s %s card posted for %s", incident.id, kind, event.event_id)
        if paged is not None and sent != REFUSED:
            _paged_on_request(notifier, incident, event, paged, now)
    return posted


def card_for(
    event: TimelineEvent, incident: Incident, notifier: Notifier
) -> tuple[str, dict[str, Any], Person | None] | None:
    """(card kind, message, person paged) for an event people must hear of; None for the rest."""
    links = notifier.links(incident)
    data = event.data
    if event.kind == ACKNOWLEDGED:
        by = person_named(str(data.get("by") or event.actor))
        return cards.ACKNOWLEDGED, cards.acknowledged_card(incident, cards.Recipient.of(by), links), None
    if event.kind == ROLE_ASSIGNED and data.get("role") in ANNOUNCED_ROLES and data.get("person"):
        person = person_named(str(data["person"]))
        return cards.ROLE, cards.role_card(incident, data["role"], cards.Recipient.of(person), None, links), None
    if event.kind == ROLE_HANDED_OFF and data.get("to"):
        person = person_named(str(data["to"]))
        previous = data.get("from") if isinstance(data.get("from"), str) else None
        role = str(data.get("role") or COMMANDER)
        return cards.ROLE, cards.role_card(incident, role, cards.Recipient.of(person), previous, links), None
    if event.kind == STATUS_CHANGED and data.get("to") == "resolved":
        return cards.RESOLVED, cards.resolved_card(incident, event.actor, event.text, links), None
    if event.kind == PAGE_REQUESTED and isinstance(data.get("target"), str):
        person, why = page_target(data["target"], str(data.get("by") or event.actor), event.at)
        if person is None:
            notifier.record(incident.id, ESCALATION_SKIPPED, why, event.at, f"page-gap-{event.event_id}")
            return None
        return cards.PAGED, cards.paged_card(incident, cards.Recipient.of(person), why, links), person
    return None


def page_target(target: str, by: str, at: datetime) -> tuple[Person | None, str]:
    """Who `page <target>` reaches: the roster's primary on call now (overrides included), else the person."""
    from functions.escalations import who_is_on_call  # the on-call modules load only when someone is paged

    try:
        roster = context.schedule().find(target)
    except ConfigurationError:
        roster = None
    if roster is None:
        person = person_named(target)
        if person not in context.people().people:  # a typo must not be recorded as someone reached
            return None, f"page {target} requested by {by} reached nobody: no roster or person of that name"
        return person, f"requested by {by}"
    layer = PRIMARY  # every roster has one (the schedule's validation makes sure)
    person, problem = who_is_on_call(roster.id, layer, at)
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


def start_escalation(
    incident: Incident,
    message_id: str,
    dequeue_count: int,
    now: datetime,
    notifier: Notifier,
    *,
    series: str = "",
    due: datetime | None = None,
) -> None:
    """Run step 0 of round 1 of the incident's policy now, in this invocation; it schedules step 1 on the
    `escalations` queue with its delay. Inline rather than queued: a second queue hop would add a whole polling
    interval to the first page (measured: p95 4.1 s instead of under 2 s). The step's ledger claim, held by this
    message's id, makes a redelivery carry on and a duplicate message do nothing."""
    from functions.escalations import run_step  # that module builds on this one

    try:
        policy = context.escalations().policy_for(incident.service, incident.severity)
    except ConfigurationError as problem:
        # Logged at start-up too; the incident's own record must say nobody was paged, and the cards still go out.
        text = f"escalation not started: {problem.detail}"
        notifier.record(
            incident.id, ESCALATION_SKIPPED, text, now, "escalation-not-started", named_at=incident.declared_at
        )
        return
    # Due when the incident was declared (or re-triggered): a redelivery names the step's events the same way.
    step = StepMessage(incident.id, policy.id, replace(FIRST, series=series), due or incident.declared_at)
    run = run_step(step, message_id, dequeue_count, now, notifier)
    log.info("notifications: %s escalation %s started: %s", incident.id, policy.id, run.steps)
