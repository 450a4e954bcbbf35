"""Posting cards to the right Teams channel once each, and recording on the timeline what people must know about it
(not configured, failed). Shared by the notifications and escalations flows.

Exactly-once effect, at-least-once delivery: a ledger row per (incident, card key) is checked before posting and
written after the post succeeded. A crash between the post and the ledger write (or two deliveries of one message
racing) can post a card twice; a card is never lost.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from shared.catalog.services import Catalog
from shared.core.contention import attempts
from shared.core.errors import ConfigurationError
from shared.core.links import is_web_url
from shared.core.queues import MAX_DEQUEUE_COUNT
from shared.core.settings import Settings
from shared.core.storage import StorageAccount
from shared.incidents.incident import Incident
from shared.incidents.store import IncidentChanged, IncidentStore
from shared.incidents.timeline import NOTIFICATION_FAILED, NOTIFICATIONS_NOT_CONFIGURED, TimelineEvent, event_id
from shared.notifications import cards
from shared.notifications.ledger import EscalationLedger
from shared.notifications.policy_config import EscalationConfig
from shared.oncall.override_store import OverrideStore
from shared.oncall.people import Directory, Person
from shared.oncall.schedule import Schedule
from shared.teams.workflow import WorkflowError, WorkflowRejected, WorkflowSender

log = logging.getLogger("firebell.notifications")

FIREBELL = "Firebell"
SENT, ALREADY_SENT, REFUSED = "sent", "already sent", "refused"  # what send_once did
MAX_DEFERRALS = 5  # Workflows throttling longer than five of its own Retry-After pauses is an outage: poison
MAX_VISIBILITY_SECONDS = 7 * 24 * 3600 - 60  # a queue message may stay hidden at most seven days


class Configuration(Protocol):
    """The configuration files the notifier reads; each raises ConfigurationError while its file is invalid."""

    def catalog(self) -> Catalog: ...
    def people(self) -> Directory: ...
    def schedule(self) -> Schedule: ...
    def escalations(self) -> EscalationConfig: ...


class Notifier:
    """Everything the notifications and escalations flows act through, for one invocation."""

    def __init__(
        self,
        store: IncidentStore,
        ledger: EscalationLedger,
        workflow: WorkflowSender,
        account: StorageAccount,
        settings: Settings,
        config: Configuration,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.workflow = workflow
        self.account = account  # overrides; queues for the next escalation step and deferred messages
        self.settings = settings
        self.config = config

    # --- whom and where -------------------------------------------------------------------------------------------
    def person_named(self, name: str) -> Person:
        return self.config.people().named(name)

    def on_call(self, roster: str, layer: str, at: datetime) -> tuple[Person | None, str]:
        """Whoever is on call in the roster's layer (overrides included); else None and why nobody."""
        from shared.oncall.lookup import who_is_on_call  # the on-call modules load only when someone is paged

        try:
            schedule, people = self.config.schedule(), self.config.people()
        except ConfigurationError as problem:
            return None, problem.detail
        return who_is_on_call(schedule, OverrideStore(self.account, people), roster, layer, at)

    def roster_of(self, incident: Incident) -> Any | None:
        service = self.config.catalog().service(incident.service)
        if service is None or service.roster is None:
            return None
        try:
            return self.config.schedule().find(service.roster)
        except ConfigurationError as problem:
            log.error("%s: on-call schedule invalid, using TEAMS_WORKFLOW_URL: %s", incident.id, problem.detail)
            return None

    def channel(self, incident: Incident) -> str | None:
        """The roster's own Workflows webhook, else TEAMS_WORKFLOW_URL; None when neither is an http(s) URL."""
        return channel_url(self.roster_of(incident), self.settings.teams_workflow_url, escalation=False)

    def escalation_channel(self, incident: Incident) -> str | None:
        return channel_url(self.roster_of(incident), self.settings.teams_workflow_url, escalation=True)

    def links(self, incident: Incident) -> cards.IncidentLinks:
        service = self.config.catalog().service(incident.service)
        return cards.incident_links(incident, service.runbook_url if service else None, self.settings.status_page_url)

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
        discriminator = "notifications-not-configured"  # named by the incident's declaration: once per incident
        self.record(incident.id, NOTIFICATIONS_NOT_CONFIGURED, text, now, discriminator, named_at=incident.declared_at)

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

    # --- patience -------------------------------------------------------------------------------------------------
    def defer(self, queue: str, body: str, holder: str, retry_after: float | None) -> bool:
        """Workflows asked for more patience than a redelivery has (Retry-After beyond what is waited out
        in-process): the same message again, visible after that pause, under the same holder so its claims carry
        on. False — the caller lets the queue redeliver, and poison in the end — without a Retry-After or after
        MAX_DEFERRALS."""
        document = json.loads(body)
        deferrals = document.get("deferrals", 0)
        if retry_after is None or not isinstance(deferrals, int) or deferrals >= MAX_DEFERRALS:
            return False
        document.update(holder=holder, deferrals=deferrals + 1)
        delay = min(math.ceil(retry_after), MAX_VISIBILITY_SECONDS)
        self.account.queue(queue).send_message(json.dumps(document), visibility_timeout=delay)
        log.warning("%s: Workflows asked to wait %.0f s; message deferred (holder %s)", queue, retry_after, holder)
        return True


def channel_url(roster: Any | None, settings_url: str, *, escalation: bool) -> str | None:
    """Where a card goes: the roster's escalation channel (for "nobody acknowledged"), its own channel, else
    TEAMS_WORKFLOW_URL. None when nothing usable is configured."""
    candidates = [getattr(roster, "escalation_workflow_url", None)] if escalation else []
    candidates += [getattr(roster, "workflow_url", None), settings_url]
    return next((url for url in candidates if url and is_web_url(url)), None)


def holder_of(body: str, message_id: str) -> str:
    """Whose claims a message works under: its own id, or that of the message it was deferred from."""
    held = json.loads(body).get("holder")
    return held if isinstance(held, str) and held else message_id
