"""Posting cards to the right Teams channel once each, and recording on the timeline what people must know about it
(not configured, failed). Shared by the notifications and escalations flows.

Exactly-once effect, at-least-once delivery: a ledger row per (incident, card key) is checked before posting and
written after the post succeeded. A crash between the post and the ledger write (or two deliveries of one message
racing) can post a card twice; a card is never lost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from shared.catalog.services import Catalog
from shared.core import deferral, telemetry
from shared.core.contention import attempts
from shared.core.errors import ConfigurationError, FirebellError
from shared.core.links import is_web_url
from shared.core.settings import Settings
from shared.core.storage import StorageAccount
from shared.incidents.incident import Incident
from shared.incidents.store import IncidentChanged, IncidentStore
from shared.incidents.timeline import NOTIFICATION_FAILED, NOTIFICATIONS_NOT_CONFIGURED, TimelineEvent, event_id
from shared.notifications import cards
from shared.notifications.ledger import CLAIM_HOLD, EscalationLedger
from shared.notifications.policy_config import EscalationConfig
from shared.oncall.notify_override import effective
from shared.oncall.notify_override_store import NotifyOverrideStore
from shared.oncall.override_store import OverrideStore
from shared.oncall.people import Directory, Person
from shared.oncall.schedule import Schedule
from shared.teams.workflow import WorkflowError, WorkflowRejected, WorkflowSender, WorkflowUnavailable

log = logging.getLogger("firebell.notifications")

FIREBELL = "Firebell"
SENT, ALREADY_SENT, REFUSED = "sent", "already sent", "refused"  # what send_once did


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
        on_paged: Callable[..., object] | None = None,
    ) -> None:
        # What else reaches a person once an escalation step paged them (shared.contacts: SMS and calls, by their
        # rules), handed in by the composition root: contacts sits above notifications and is not imported here.
        self.on_paged = on_paged
        self.store = store
        self.ledger = ledger
        self.workflow = workflow
        self.account = account  # overrides; queues for the next escalation step and deferred messages
        self.settings = settings
        self.config = config

    # --- whom and where -------------------------------------------------------------------------------------------
    def person_named(self, name: str) -> Person:
        return self.config.people().named(name)

    def reachable(self, name: str) -> Person:
        """The person with the notification rules in force: set through the API (one point read), else people.toml's.
        Only paging by phone or Teams activity reads them, never a card."""
        person = self.person_named(name)
        return effective(person, NotifyOverrideStore(self.account).get(person))

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

    def in_its_channel(self, incident: Incident, message: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """The card again for the incident's own Teams channel (shared.channels), through the channel flow, which
        reads the channel from the request; None until the channel exists or without TEAMS_CHANNEL_WORKFLOW_URL."""
        url = self.settings.teams_channel_workflow_url
        if not incident.channel_id or not is_web_url(url):
            return None
        return url, {**message, "teamId": self.settings.graph_team_id, "channelId": incident.channel_id}

    def escalation_channel(self, incident: Incident) -> str | None:
        return channel_url(self.roster_of(incident), self.settings.teams_workflow_url, escalation=True)

    def links(self, incident: Incident) -> cards.IncidentLinks:
        catalog = self.config.catalog()
        service = catalog.service(incident.service)
        return cards.incident_links(
            incident,
            service.runbook_url if service else None,
            self.settings.status_page_url,
            self.settings.status_page_id_key.encode(),
            catalog.is_public_service(incident.service),
        )

    # --- sending --------------------------------------------------------------------------------------------------
    def send_once(
        self,
        incident: Incident,
        key: str,
        url: str,
        message: dict[str, Any],
        now: datetime,
        dequeue_count: int,
        *,
        deferrable: bool = False,
        unsent: bool = False,
    ) -> str:
        """Post unless the ledger has it (`unsent`: the caller knows it has not): SENT, ALREADY_SENT, or REFUSED (a
        4xx no retry can fix: recorded on the timeline and in the ledger, never tried again). Other failures raise
        WorkflowError, after writing them on the timeline when this delivery gives up: the queue's last delivery of
        a message that can no longer be deferred (`deferrable` False: its outage bound is exhausted, or nobody would
        defer it)."""
        if not unsent and self.ledger.sent(incident.id, key):
            return ALREADY_SENT
        try:
            self.workflow.post(url, cards.encode(message))
        except WorkflowRejected as refusal:
            self.failed(incident, key, refusal.detail, now)
            self.ledger.record_sent(incident.id, key, now, {"outcome": REFUSED, "reason": refusal.detail[:500]})
            return REFUSED
        except WorkflowError as failure:
            if deferral.gives_up(dequeue_count, deferrable):
                self.failed(incident, key, failure.detail, now)
            raise
        self.ledger.record_sent(incident.id, key, now, {"outcome": SENT})
        telemetry.count(telemetry.CARDS_SENT, card=_card_kind(key))
        return SENT

    def failed(self, incident: Incident, key: str, reason: str, now: datetime) -> None:
        self.record(incident.id, NOTIFICATION_FAILED, f"notification failed: {reason}", now, f"notify-failed-{key}")

    def gave_up(self, incident_id: str, holder: str, failure: BaseException, now: datetime) -> None:
        """The last delivery failed on something other than Workflows (storage, a card that cannot be encoded, …):
        the timeline says so once — only the last delivery writes it — before the message goes to poison. Best
        effort: when storage itself is what failed, the log is all there is."""
        reason = failure.detail if isinstance(failure, FirebellError) else f"{type(failure).__name__}: {failure}"
        try:
            text = f"notification failed: {reason[:300]}"
            self.record(incident_id, NOTIFICATION_FAILED, text, now, f"gave-up-{holder}")
        except Exception:
            log.exception("%s: could not write the failure on the timeline", incident_id)

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
    def patiently(
        self,
        queue: str,
        body: str,
        incident_id: str,
        holder: str,
        dequeue_count: int,
        now: datetime,
        act: Callable[[bool], object],
        before_deferring: Callable[[], None] | None = None,
    ) -> Any | None:
        """Do one message's work, `act(deferrable)`: a Workflows outage (or a long Retry-After) defers the message
        instead of burning its deliveries, and the deferred message is returned; the last delivery of a message that
        can no longer be deferred writes its failure on the timeline, whatever it is, before it goes to poison.
        `before_deferring` runs before a copy is made (and may raise): what the copy will not do again must be
        done first."""
        deferrable = not deferral.exhausted(json.loads(body), now)
        try:
            act(deferrable)
        except WorkflowUnavailable as outage:
            if deferrable and before_deferring is not None:
                before_deferring()
            deferred = self.defer(queue, body, holder, outage.retry_after, now) if deferrable else None
            if deferred is None:
                raise  # the bound is exhausted: redelivered, and the last delivery wrote it on the timeline
            # Its claims wait for it through the pause: neither a duplicate nor the sweeper takes them over.
            pause = deferred.next_visible_on - deferred.inserted_on
            self.ledger.hold(incident_id, holder, now + pause + CLAIM_HOLD)
            return deferred
        except WorkflowError:
            raise  # on the last delivery send_once has written it on the timeline
        except Exception as failure:
            if deferral.gives_up(dequeue_count, deferrable=False):
                self.gave_up(incident_id, holder, failure, now)
            raise
        return None

    def defer(self, queue: str, body: str, holder: str, retry_after: float | None, now: datetime) -> Any | None:
        """Workflows is unavailable (5xx, timeouts, refused connections after the in-process attempts, or a
        Retry-After longer than is waited here): the same message again, hidden for the pause shared.core.deferral
        decides, under the same holder so its claims carry on. Returns the message sent (its `next_visible_on`
        shows the pause); None once the outage bound is exhausted — the caller then lets the message fail."""
        document = json.loads(body)
        delay = deferral.next_delay(document, retry_after, now)
        if delay is None:
            return None
        again = deferral.deferred(document, now, **{deferral.HOLDER: holder})
        sent = self.account.queue(queue).send_message(json.dumps(again), visibility_timeout=delay)
        log.warning(
            "%s: Workflows unavailable; message deferred %d s (deferral %d, holder %s)",
            queue,
            delay,
            again[deferral.DEFERRALS],
            holder,
        )
        return sent


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


def _card_kind(key: str) -> str:
    """The kind of card a ledger key names (card-<kind>-<event>, page-<step>, reminder-<time>, …): a metric
    attribute with few values."""
    parts = key.split("-")
    return parts[1] if parts[0] == "card" and len(parts) > 1 else parts[0]
