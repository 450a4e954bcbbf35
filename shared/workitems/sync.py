"""Carry an incident's changes over to Azure Boards, exactly once.

A change message (shared.incidents.changes) names the incident and the timeline events of one change;
shared.workitems.plan decides what they ask of Boards, this module does it and records it. Every effect in Boards
— the incident's work item, a follow-up's child task, a resolution comment — goes through the `workitems` ledger
table (one row per effect) and a lookup in Boards:

1. claim the effect's row (insert-if-absent; a live claim held by another delivery defers this one);
2. look for what an earlier, crashed delivery may have made (WIQL on the unique tag; the comment's marker);
3. only if nothing is found, create it;
4. mark the row done with the work item's id, then record it: timeline event, then the incident's
   work_item_id/work_item_url (ETag-guarded).

A crash between 3 and 4 leaves the claim (released on any exception; a hard kill's claim expires) and the item in
Boards, which step 2 of the next delivery finds. The ledger row, not the timeline, is the record for follow-ups: the
timeline is append-only, so it cannot hold a claim that is released again, and a row per effect is one point read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from shared.catalog.services import Catalog
from shared.core import deferral
from shared.core.errors import InvalidInput, reason
from shared.core.queues import WORKITEMS
from shared.core.settings import Settings
from shared.core.storage import StorageAccount
from shared.incidents.changes import ChangeMessage
from shared.incidents.incident import Incident
from shared.incidents.store import IncidentStore
from shared.incidents.timeline import TimelineEvent
from shared.oncall.people import Directory
from shared.workitems import plan as work_item
from shared.workitems.boards import Boards, BoardsRejected, BoardsUnavailable, WorkItemRef, boards_for
from shared.workitems.config import BoardsConfig
from shared.workitems.followup_index import FollowUpIndex, TrackedFollowUp
from shared.workitems.ledger import LEDGER_TABLE, EffectInProgress, Entry, Ledger, lease_for

log = logging.getLogger("firebell.workitems")

INCIDENT_KEY = "incident"

# Called after Boards created an item and before Firebell recorded it (effect key, item): tests crash here.
AfterCreated = Callable[[str, WorkItemRef], None]


class Configuration(Protocol):
    """The configuration files a Boards sync reads; each raises ConfigurationError while its file is invalid."""

    def boards(self) -> BoardsConfig: ...
    def catalog(self) -> Catalog: ...
    def people(self) -> Directory: ...


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
    after_created: AfterCreated | None = None,
) -> Any | None:
    """Carry one change over to Boards. An Azure DevOps outage — 429, 5xx, timeouts, refused connections after the
    in-process attempts — or an effect another delivery is making right now defers the message on `workitems`
    (shared.core.deferral: backoff, Retry-After first, up to its outage bound) and returns the deferred message.
    Anything else, and an outage past the bound, raises to have the message delivered again; the last delivery first
    writes "work item not created: …" on the timeline.

    The Boards ledger's claims need nothing from the deferral: a failing delivery releases the claim it held
    (`_Run.once`), so the pause holds no claim and the deferred copy claims afresh; a claim left by a hard-killed
    delivery expires with its lease, and a deferred copy that meets it live waits another pause."""
    try:
        change = ChangeMessage.parse(body)
    except InvalidInput as problem:
        log.error("workitems: message %s dropped: %s", message_id, problem.detail)
        return None  # a malformed message never improves with retries
    boards_config = config.boards()
    if not boards_config.enabled:
        return None
    stored = store.load_incident(change.incident)
    if stored is None:
        log.error("workitems: %s does not exist; message %s dropped", change.incident, message_id)
        return None
    timeline = store.timeline(change.incident)
    plan = work_item.plan(stored.incident, timeline, list(change.events), boards_config)
    if plan.empty:
        return None
    if not settings.boards_configured:
        store.append_event(work_item.not_configured_event(stored.incident, now))  # once per incident: a fixed id
        return None
    run: _Run | None = None
    try:
        run = _Run(plan, store, settings, config, boards_config, account, now, message_id, after_created)
        run.carry_out()
    except Exception as failure:
        if isinstance(failure, (BoardsUnavailable, EffectInProgress)):
            deferred = deferral.defer(account, WORKITEMS, json.loads(body), failure, now)
            if deferred is not None:
                return deferred
        if deferral.gives_up(dequeue_count, deferrable=False):  # the last delivery, and no deferral left
            text = f"{run.doing if run else 'work item not created'}: {reason(failure)}"
            store.append_event(work_item.failed_event(plan.incident, plan.cause, text, now, "delivery"))
            log.error("workitems: %s gave up after %d deliveries: %s", change.incident, dequeue_count, text)
        raise
    return None


class _Run:
    """One delivery's work for one incident."""

    def __init__(
        self,
        plan: work_item.Plan,
        store: IncidentStore,
        settings: Settings,
        configuration: Configuration,
        config: BoardsConfig,
        account: StorageAccount,
        now: datetime,
        message_id: str,
        after_created: AfterCreated | None,
    ) -> None:
        self.plan = plan
        self.incident = plan.incident
        self.store = store
        self.config = config
        self.now = now
        self.message_id = message_id  # names this delivery's claims: a redelivery of the message takes them over
        self.after_created = after_created
        self.boards: Boards = boards_for(
            settings.azure_devops_org_url, settings.azure_devops_project, settings.azure_devops_pat, config.http
        )
        self.ledger = Ledger(account.table(LEDGER_TABLE), lease_for(config.http))
        self.index = FollowUpIndex(account)
        self.people = configuration.people()
        service = configuration.catalog().service(self.incident.service)
        self.service = service
        self.links = work_item.incident_links(
            self.incident,
            service,
            settings.api_base_url,
            settings.status_page_url,
            settings.status_page_id_key.encode(),
        )
        self.doing = "work item not created"  # what the failure note says, should this delivery be the last

    def carry_out(self) -> None:
        plan = self.plan
        try:
            created = self.incident_item()
        except BoardsRejected as rejected:
            self.note_failure("work item not created", rejected, "incident")
            return  # nothing else can be done without the item
        self.doing = "work item not updated"
        if plan.update_severity and not created:
            document = work_item.severity_document(self.incident)
            self.update("severity", document, f"priority {document[0]['value']} and title follow the severity")
        for follow_up in plan.follow_ups:
            self.follow_up(follow_up)
        self.doing = "work item not updated"
        for made in plan.channels:
            self.comment(made, work_item.channel_comment(self.incident, made), "incident channel linked")
        for resolution in plan.resolutions:
            self.comment(resolution)
        if plan.state is not None:
            self.update("state", work_item.state_document(plan.state), f"state moved to {plan.state}")

    # --- the incident's work item -----------------------------------------------------------------------------------
    def incident_item(self) -> bool:
        """Make sure the incident's item exists and is recorded; True when this delivery created it."""
        if self.incident.work_item_id is not None:
            return False
        document = work_item.incident_item_document(self.incident, self.service, self.config, self.links)
        tag = work_item.incident_tag(self.incident.id)
        entry, created = self.once(INCIDENT_KEY, lambda: self.boards.ensure(tag, self.config.work_item_type, document))
        self.incident = self.record_item(entry)
        return created

    def record_item(self, entry: Entry) -> Incident:
        """Timeline first (its id comes from the ledger row, so a repeat writes nothing), then the incident."""
        assert entry.work_item_id is not None and entry.url is not None and entry.recorded_at is not None
        self.store.append_event(
            work_item.created_event(self.incident, entry.work_item_id, entry.url, entry.recorded_at)
        )
        return self.store.record_link(
            self.incident.id, self.now, "work item", work_item_id=entry.work_item_id, work_item_url=entry.url
        )

    # --- follow-ups, updates, comments ------------------------------------------------------------------------------
    def follow_up(self, follow_up: work_item.FollowUp) -> None:
        """A child Task under the incident's item, assigned to its owner when people.toml knows their email."""
        self.doing = f"work item not created for the follow-up “{follow_up.text[:80]}”"
        assert self.incident.work_item_id is not None
        owner = self.people.named(follow_up.owner)
        document = work_item.follow_up_document(
            self.incident,
            follow_up,
            self.boards.api_url(self.incident.work_item_id),
            owner.email,
            self.service.area_path if self.service is not None else None,
            self.links,
            self.config.due_date_field,
        )
        tag = work_item.follow_up_tag(self.incident.id, follow_up.event.event_id)
        refused: list[str] = []  # fields Boards refused, left out of the task

        def make() -> tuple[WorkItemRef, bool]:
            nonlocal document
            while True:
                try:
                    return self.boards.ensure(tag, self.config.task_type, document)
                except BoardsRejected as rejected:
                    # Boards does not know the owner's address, or the task type has no due date field: the task
                    # still matters more than its assignee or its date (Firebell keeps the date and reminds).
                    field = _optional_field(rejected.field, owner.email, follow_up, self.config.due_date_field)
                    if field is None or field in refused:
                        raise
                    log.warning("workitems: Boards refused %s; follow-up task created without it", field)
                    refused.append(field)
                    document = work_item.without_field(document, field)

        try:
            entry, _ = self.once(follow_up.key, make)
        except BoardsRejected as rejected:
            self.note_failure(self.doing, rejected, follow_up.key, follow_up.event)
            return
        assert entry.work_item_id is not None and entry.url is not None and entry.recorded_at is not None
        event = work_item.created_event(self.incident, entry.work_item_id, entry.url, entry.recorded_at, follow_up)
        self.store.append_event(event)
        if self.config.due_date_field in refused and follow_up.due is not None:
            text = (
                f"due date not set in Boards: work item {entry.work_item_id} ({self.config.task_type}) has no field "
                f"{self.config.due_date_field}; Firebell still reminds its owner after {follow_up.due.isoformat()}"
            )
            self.store.append_event(work_item.failed_event(self.incident, follow_up.event, text, self.now, "due"))
        # The service hook finds the follow-up by its task, the reminders timer by its due date (followup_index).
        self.index.track(
            TrackedFollowUp(
                incident_id=self.incident.id,
                key=follow_up.key,
                added_event=follow_up.event.event_id,
                text=follow_up.text,
                owner=owner.name,
                owner_zone=owner.time_zone,
                work_item_id=entry.work_item_id,
                url=entry.url,
                due=follow_up.due,
            )
        )

    def comment(
        self, resolution: TimelineEvent, html: str | None = None, what: str = "resolution comment added"
    ) -> None:
        """A comment on the incident's item for `resolution` (or another event, with its own `html`), once."""
        assert self.incident.work_item_id is not None
        item = self.incident.work_item_id
        marker = work_item.comment_marker(resolution)
        html = html if html is not None else work_item.resolution_comment(self.incident, resolution)
        key = work_item.comment_key(resolution)

        def make() -> tuple[WorkItemRef, bool]:
            return self.boards.ref(item), self.boards.ensure_comment(item, marker, html)

        try:
            self.once(key, make)
        except BoardsRejected as rejected:
            self.note_failure("work item not updated", rejected, "comment", resolution)
            return
        self.store.append_event(work_item.updated_event(self.incident, resolution, "comment", what, self.now))

    def update(self, step: str, document: list[dict[str, Any]], what: str) -> None:
        assert self.incident.work_item_id is not None and self.plan.cause is not None
        try:
            self.boards.update(self.incident.work_item_id, document)
        except BoardsRejected as rejected:
            self.note_failure("work item not updated", rejected, step)
            return
        self.store.append_event(work_item.updated_event(self.incident, self.plan.cause, step, what, self.now))

    # --- exactly once -----------------------------------------------------------------------------------------------
    def once(self, key: str, make: Callable[[], tuple[WorkItemRef, bool]]) -> tuple[Entry, bool]:
        """Claim the effect, make (or find) it, and mark it done; (entry, created by this delivery)."""
        entry = self.ledger.claim(self.incident.id, key, self.now, self.message_id)
        if entry.done:
            return entry, False
        try:
            ref, created = make()
            if created and self.after_created is not None:
                self.after_created(key, ref)
            return self.ledger.complete(self.incident.id, entry, ref, self.now), created
        except BaseException:
            self.ledger.release(self.incident.id, entry)
            raise

    def note_failure(self, doing: str, rejected: BoardsRejected, step: str, cause: TimelineEvent | None = None) -> None:
        text = f"{doing}: {rejected.detail}"
        log.error("workitems: %s: %s", self.incident.id, text)
        self.store.append_event(work_item.failed_event(self.incident, cause or self.plan.cause, text, self.now, step))


def _optional_field(refused: str, owner_email: str | None, follow_up: work_item.FollowUp, due_field: str) -> str | None:
    """The field of a follow-up task that may be left out when Boards refuses it; None: the refusal stands."""
    if owner_email and refused in (work_item.ASSIGNED_TO_FIELD, "Assigned To"):
        return work_item.ASSIGNED_TO_FIELD
    if follow_up.due is not None and refused in (due_field, "Due Date"):
        return due_field
    return None
