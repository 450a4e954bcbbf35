"""An incident's Teams channel, followed from the `channels` queue: made when the incident opens severe enough (or
when asked for), its conversation carried onto the timeline, archived when the incident is done.

What a change message asks (the listed events, read by point reads):
- an opening (alert fired, declared) or a severity change, while the incident is open, of severity
  GRAPH_CHANNEL_SEVERITY or worse (not a drill) — or a request for one (`"channel": true` on a declaration, the
  Teams `channel <id>` command) — and no channel yet:
  make it. Exactly once: claim the `channels` ledger row, look the name up in Graph (a crashed delivery may have
  made it), create only if absent (a racing create is refused by Graph, NameAlreadyExists, and found instead), mark
  the row done, then timeline first and the incident's channel_id/channel_url (ETag-guarded). Then the first card
  goes into the channel (through the channel flow, TEAMS_CHANNEL_WORKFLOW_URL), and, with GRAPH_CLIENT_STATE set,
  a change-notification subscription for its messages.
- resolved: every message of the channel onto the timeline (shared.channels.transcript: ids from facts, so once);
  archived too when GRAPH_ARCHIVE_ON=resolved.
- closed: the transcript again (what was said since), a last card linking the review, then the channel archived
  (renamed `INC-7 closed …` where Graph refuses archiving).
A `{"incident": …, "transcript": true}` message (a believed change notification) reads the transcript only.

Faults: Graph 429/5xx/timeouts after the in-call retries, or a channel another delivery is making right now, defer
the message on `channels` (shared.core.deferral); past the outage bound the message fails, and its last delivery
writes "channel not created: …" on the timeline before it goes to poison. A refusal (4xx) is written at once.
Not configured (no GRAPH_TEAM_ID): said once on the timeline.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.catalog.services import Catalog
from shared.channels import naming, transcript
from shared.channels.ledger import ARCHIVED, CHANNELS_TABLE, ChannelEntry, ChannelInProgress, ChannelLedger
from shared.core import deferral
from shared.core.errors import FirebellError, InvalidInput, reason
from shared.core.links import is_web_url
from shared.core.queues import CHANNELS, WORKITEMS
from shared.core.settings import Settings
from shared.core.storage import StorageAccount
from shared.incidents.changes import ChangeMessage, change_message
from shared.incidents.incident import CLOSED, RESOLVED, Incident
from shared.incidents.store import IncidentStore
from shared.incidents.timeline import (
    ALERT_FIRED,
    CHANNEL_ARCHIVED,
    CHANNEL_CREATED,
    CHANNEL_FAILED,
    INCIDENT_DECLARED,
    SEVERITY_CHANGED,
    STATUS_CHANGED,
    TimelineEvent,
    event_id,
)
from shared.notifications.cards import incident_links

log = logging.getLogger("firebell.channels")

ACTOR, SOURCE = "Firebell", "graph"
OPENING_KINDS = frozenset({ALERT_FIRED, INCIDENT_DECLARED, SEVERITY_CHANGED})
SUBSCRIPTION_LIFETIME = timedelta(minutes=55)  # Graph allows channel-message subscriptions up to 60 minutes
RENEW_WITHIN = timedelta(minutes=25)  # the timer runs every 10 minutes: two chances before expiry
NOT_CONFIGURED = "incident channels not configured: set GRAPH_TEAM_ID (and GRAPH_TENANT_ID / GRAPH_CLIENT_ID)"


class Configuration(Protocol):
    def catalog(self) -> Catalog: ...


class Services(Protocol):
    """What a delivery talks to: Graph, and the Workflows sender for cards into the channel."""

    def graph(self) -> Any: ...
    def post_card(self, url: str, body: bytes) -> None: ...


def on_change(
    body: bytes,
    message_id: str,
    dequeue_count: int,
    now: datetime,
    *,
    store: IncidentStore,
    settings: Settings,
    config: Configuration,
    account: StorageAccount,
    services: Services,
) -> Any | None:
    """Follow one change (or read one channel); returns the deferred message when it was deferred, else None."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        document = None
    try:
        if isinstance(document, dict) and document.get("transcript") is True:
            ident = document.get("incident")
            if not isinstance(ident, str):
                raise InvalidInput("a transcript message needs an 'incident' id")
            incident_id, events = ident, []
        else:
            change = ChangeMessage.parse(body)
            incident_id, events = change.incident, list(change.events)
    except InvalidInput as problem:
        log.error("channels: message %s dropped: %s", message_id, problem.detail)
        return None
    stored = store.load_incident(incident_id)
    if stored is None:
        log.error("channels: %s does not exist; message %s dropped", incident_id, message_id)
        return None
    incident = stored.incident
    wanted = _wanted(incident, store.events(incident_id, events) if events else [], settings, bool(not events))
    if not wanted:
        return None
    if not settings.channels_configured:
        # Named just after the declaration (once per incident), so the note follows the opening on the timeline.
        named_at = incident.declared_at + timedelta(milliseconds=1)
        store.append_event(_event(incident, event_id(named_at, "channel-not-configured"), now, NOT_CONFIGURED))
        return None
    run = _Run(incident, store, settings, config, account, services, now, message_id)
    try:
        run.carry_out(wanted)
    except Exception as failure:
        if _refused(failure):
            run.note(f"{run.doing}: {reason(failure)}", "refused")  # Graph refused: retrying cannot help
            return None
        if _outage(failure):
            deferred = deferral.defer(account, CHANNELS, document if isinstance(document, dict) else {}, failure, now)
            if deferred is not None:
                return deferred
        if deferral.gives_up(dequeue_count, deferrable=False):
            run.note(f"{run.doing}: {reason(failure)}", "delivery")
            log.error("channels: %s gave up after %d deliveries: %s", incident_id, dequeue_count, run.doing)
        raise
    return None


def _wanted(incident: Incident, events: list[TimelineEvent], settings: Settings, transcript_only: bool) -> set[str]:
    if transcript_only:
        return {"transcript"} if incident.channel_id else set()
    wanted: set[str] = set()
    asked = any(event.data.get("channel") is True for event in events)
    opening = any(event.kind in OPENING_KINDS for event in events)
    # A drill pages like an incident but gets a channel only when asked for: exercises stay out of the team's list.
    severe = settings.channel_severity > 0 and incident.severity <= settings.channel_severity and not incident.drill
    if incident.channel_id is None and incident.is_open and (asked or (opening and severe)):
        wanted.add("create")
    statuses = {event.data.get("to") for event in events if event.kind == STATUS_CHANGED}
    if incident.channel_id is not None or "create" in wanted:
        if RESOLVED in statuses or CLOSED in statuses:
            wanted.add("transcript")
        if CLOSED in statuses or (RESOLVED in statuses and settings.channel_archive_on == RESOLVED):
            wanted.add("archive")
    return wanted


class _Run:
    def __init__(
        self,
        incident: Incident,
        store: IncidentStore,
        settings: Settings,
        config: Configuration,
        account: StorageAccount,
        services: Services,
        now: datetime,
        message_id: str,
    ) -> None:
        self.incident = incident
        self.store = store
        self.settings = settings
        self.account = account
        self.services = services
        self.now = now
        self.message_id = message_id
        self.ledger = ChannelLedger(account.table(CHANNELS_TABLE))
        catalog = config.catalog()
        service = catalog.service(incident.service)
        self.runbook = service.runbook_url if service is not None else None
        public = catalog.is_public_service(incident.service)  # an internal service's incident has no status page
        links = incident_links(
            incident, self.runbook, settings.status_page_url, settings.status_page_id_key.encode(), public=public
        )
        self.status_page = links.status_page
        self.doing = "channel not created"

    def carry_out(self, wanted: set[str]) -> None:
        if "create" in wanted:
            self.create()
        if self.incident.channel_id is None:
            return
        if "transcript" in wanted:
            self.doing = "channel not recorded"
            self.record_transcript()
        if "archive" in wanted:
            self.doing = "channel not archived"
            self.archive()

    # --- made, exactly once -----------------------------------------------------------------------------------------
    def create(self) -> None:
        entry = self.ledger.claim(self.incident.id, self.now, self.message_id)
        if not entry.done:
            name = naming.channel_name(self.incident)
            description = naming.description(self.incident, self.status_page, self.runbook)
            try:
                channel, made = self.services.graph().ensure_channel(name, description)
                entry = self.ledger.complete(
                    self.incident.id, entry, channel.id, channel.web_url, channel.display_name, self.now
                )
            except BaseException:
                self.ledger.release(self.incident.id, entry)
                raise
            log.info("channels: %s channel %s (%s)", self.incident.id, "created" if made else "found", channel.id)
        self.record(entry)
        self.doing = "first card not posted in the channel"
        self.card_once("card-opened", self.opened_card())
        self.subscribe()

    def record(self, entry: ChannelEntry) -> None:
        assert entry.channel_id is not None and entry.recorded_at is not None
        text = f"channel {entry.name} created in Teams"
        data = {"channel": entry.channel_id, "url": entry.url, "name": entry.name}
        ident = event_id(entry.recorded_at, "channel-created")
        self.store.append_event(_event(self.incident, ident, entry.recorded_at, text, data, kind=CHANNEL_CREATED))
        # Boards links the channel on the incident's work item (a comment, once: shared.workitems.sync).
        self.account.queue(WORKITEMS).send_message(change_message(self.incident.id, [ident], [CHANNEL_CREATED]))
        self.incident = self.store.record_link(
            self.incident.id, self.now, "channel", channel_id=entry.channel_id, channel_url=entry.url
        )

    def subscribe(self) -> None:
        """Live recording, where it can work: a secret to check notifications by and a public HTTPS address."""
        base = self.settings.api_base_url
        if not self.settings.graph_client_state or not _reachable(base) or self.incident.channel_id is None:
            return
        if self.ledger.subscription(self.incident.id) is not None:
            return
        expires = self.now + SUBSCRIPTION_LIFETIME
        try:
            ident = self.services.graph().subscribe(
                self.incident.channel_id, f"{base}/graph/notifications", self.settings.graph_client_state, expires
            )
        except FirebellError as failure:
            # Live recording is a bonus: the channel is still read when the incident resolves and closes.
            self.note(f"channel messages not followed live: {reason(failure)}", "subscription")
            return
        self.ledger.keep_subscription(self.incident.id, ident, expires, self.incident.channel_id)

    # --- recorded ---------------------------------------------------------------------------------------------------
    def record_transcript(self) -> int:
        assert self.incident.channel_id is not None
        added = 0
        for message in self.services.graph().messages(self.incident.channel_id):
            event = transcript.message_event(self.incident.id, self.incident.channel_id, message, self.now)
            if event is not None and self.store.append_event(event):
                added += 1
        log.info("channels: %s transcript read, %d new messages", self.incident.id, added)
        return added

    # --- archived ---------------------------------------------------------------------------------------------------
    def archive(self) -> None:
        from shared.channels.graph import GraphRejected

        assert self.incident.channel_id is not None
        if self.ledger.entry(self.incident.id) is None or not self._archivable():
            return
        # The last card first: an archived channel takes no new messages.
        self.card_once("card-closing", self.closing_card())
        graph = self.services.graph()
        how = "archived"
        try:
            graph.archive(self.incident.channel_id)
        except GraphRejected as refused:
            log.warning("channels: %s archive refused (%s); renaming instead", self.incident.id, refused.detail)
            graph.rename(self.incident.channel_id, naming.closed_name(self.incident))
            how = "renamed closed (archiving refused)"
        self.ledger.mark(self.incident.id, ARCHIVED, how=how)
        self.ledger.forget_subscription(self.incident.id)  # an archived channel says nothing more: no renewals
        text = f"channel {how}"
        ident = event_id(self.now, "channel-archived")
        self.store.append_event(_event(self.incident, ident, self.now, text, {"how": how}, kind=CHANNEL_ARCHIVED))

    def _archivable(self) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self.ledger.table.get_entity(self.incident.id, ARCHIVED)
        except ResourceNotFoundError:
            return True
        return False

    # --- cards into the channel -------------------------------------------------------------------------------------
    def card_once(self, key: str, card: dict[str, Any]) -> None:
        url = self.settings.teams_channel_workflow_url
        if not is_web_url(url) or self.incident.channel_id is None:
            return
        if not self.ledger.mark(self.incident.id, key, state="posting"):
            return
        envelope = {
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
            "teamId": self.settings.graph_team_id,
            "channelId": self.incident.channel_id,
        }
        try:
            self.services.post_card(url, json.dumps(envelope).encode())
        except BaseException:
            self.ledger.unmark(self.incident.id, key)  # not posted: the next delivery posts it
            raise

    def opened_card(self) -> dict[str, Any]:
        i = self.incident
        lines = [
            f"**{i.id}** (severity {i.severity}, {i.service}): {i.title}",
            "Talk here: everything said is kept on the incident's timeline.",
            "Commands need no id here: `@firebell ack`, `@firebell update …`, `@firebell resolve …`.",
        ]
        return _card(lines, [("Status page", self.status_page), ("Runbook", self.runbook)])

    def closing_card(self) -> dict[str, Any]:
        review = (
            f"{self.settings.api_base_url}/incidents/{self.incident.id}/postmortem"
            if self.settings.api_base_url
            else None
        )
        lines = [
            f"**{self.incident.id}** is {self.incident.status}. This channel is archived now; "
            "its conversation is on the incident's timeline."
        ]
        return _card(lines, [("Review", review), ("Status page", self.status_page)])

    def note(self, text: str, step: str) -> None:
        ident = event_id(self.incident.declared_at, f"channel-failed-{step}-{self.doing.replace(' ', '-')}")
        self.store.append_event(_event(self.incident, ident, self.now, text, {"step": step}))


def renew_subscriptions(now: datetime, settings: Settings, account: StorageAccount, services: Services) -> int:
    """The renewal timer: every subscription expiring within RENEW_WITHIN gets another SUBSCRIPTION_LIFETIME (Graph
    allows at most an hour for channel messages). Renewing twice (two instances) is harmless. Returns how many."""
    if not settings.channels_configured or not settings.graph_client_state:
        return 0
    ledger = ChannelLedger(account.table(CHANNELS_TABLE))
    renewed = 0
    for incident_id, subscription_id, expires, channel_id in ledger.subscriptions():
        if expires - now > RENEW_WITHIN:
            continue
        until = now + SUBSCRIPTION_LIFETIME
        try:
            services.graph().renew(subscription_id, until)
        except FirebellError as failure:
            # Gone (expired before we came, deleted): the channel is still read at resolve and close.
            log.warning("channels: %s subscription not renewed: %s", incident_id, reason(failure))
            if expires <= now:
                ledger.forget_subscription(incident_id)
            continue
        ledger.keep_subscription(incident_id, subscription_id, until, channel_id)
        renewed += 1
    return renewed


def _reachable(base: str) -> bool:
    """Graph delivers notifications to HTTPS only; a local host (the devhost, a test) speaks plain HTTP."""
    host = base.split("://", 1)[-1].split("/", 1)[0].split(":")[0]
    return base.startswith("https://") or (base.startswith("http://") and host in ("127.0.0.1", "localhost"))


def _card(lines: list[str], links: list[tuple[str, str | None]]) -> dict[str, Any]:
    body = [{"type": "TextBlock", "text": line, "wrap": True} for line in lines]
    actions = [{"type": "Action.OpenUrl", "title": title, "url": url} for title, url in links if is_web_url(url)]
    return {"type": "AdaptiveCard", "version": "1.5", "body": body, "actions": actions}


def _event(
    incident: Incident,
    ident: str,
    at: datetime,
    text: str,
    data: dict[str, Any] | None = None,
    *,
    kind: str = CHANNEL_FAILED,
) -> TimelineEvent:
    return TimelineEvent(incident.id, ident, kind, at, at, ACTOR, SOURCE, text, data=data or {})


def _outage(failure: BaseException) -> bool:
    from shared.channels.graph import GraphUnavailable
    from shared.teams.workflow import WorkflowUnavailable

    return isinstance(failure, (GraphUnavailable, ChannelInProgress, WorkflowUnavailable))


def _refused(failure: BaseException) -> bool:
    from shared.channels.graph import GraphRejected
    from shared.teams.workflow import WorkflowRejected

    return isinstance(failure, (GraphRejected, WorkflowRejected))
