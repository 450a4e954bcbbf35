"""What the postmortems function and the review routes call.

The `postmortems` queue carries the change messages that can change a review (notifications forwards them, as it
does to readiness). Each writes the draft of an incident that has one to keep — its review started or ended, or it
resolved with a severity that needs one — then publishes it to the Azure DevOps wiki when Boards is configured, and
tells the team once, with a Teams card, that the draft is ready. Idempotent: the same timeline gives the same bytes,
and an older basis never replaces a newer draft (shared.postmortems.store).

Starting and closing a review through the API go through the same rules as Teams (shared.postmortems.review), with
events before state and ETag-guarded saves; a refused move is a 400 that stores nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from shared.catalog.services import Catalog
from shared.core.contention import attempts
from shared.core.errors import DependencyUnavailable, FirebellError, InvalidInput, NotFound, StorageUnavailable
from shared.incidents.changes import ChangeMessage
from shared.incidents.incident import Incident
from shared.incidents.store import IncidentChanged, IncidentStore
from shared.incidents.timeline import STATUS_CHANGED, TimelineEvent, event_id
from shared.notifications import cards
from shared.notifications.notifier import Notifier
from shared.oncall.people import Directory
from shared.postmortems import review
from shared.postmortems.policy import ReviewPolicy
from shared.postmortems.store import SUPERSEDED, DraftStore

if TYPE_CHECKING:
    from shared.postmortems.draft import Draft

log = logging.getLogger("firebell.postmortems")

NOT_REVIEWED, UNREADABLE = "not reviewed", "unreadable"


class Configuration(Protocol):
    def catalog(self) -> Catalog: ...
    def people(self) -> Directory: ...
    def review(self) -> ReviewPolicy: ...


class Wiki(Protocol):
    def publish(self, incident_id: str, basis: tuple[int, int], generated: str, first_notes: str) -> str: ...


Ready = Callable[[Incident, str], None]  # tell the team the draft of the incident is ready, at this address


def draft_of(incident: Incident, timeline: list[TimelineEvent], config: Configuration) -> Draft:
    from shared.postmortems.draft import build_draft  # with the renderer, on the first draft: not at cold start

    catalog = config.catalog()
    service = catalog.service(incident.service) or catalog.default
    return build_draft(incident, timeline, service, config.people(), config.review())


def on_change(
    body: bytes | str,
    store: IncidentStore,
    drafts: DraftStore,
    config: Configuration,
    *,
    draft_url: Callable[[str], str],
    wiki: Wiki | None = None,
    ready: Ready | None = None,
) -> str:
    """What the message did to the incident's draft: written, unchanged, superseded, not reviewed or unreadable."""
    try:
        change = ChangeMessage.parse(body)
    except InvalidInput as problem:
        log.error("postmortems: message dropped: %s", problem.detail)
        return UNREADABLE  # retrying cannot make it readable
    incident = store.get_incident(change.incident)
    if incident is None or not config.review().drafts(incident):
        return NOT_REVIEWED
    from shared.postmortems import render  # Jinja2 loads with the first draft, not at every cold start

    draft = draft_of(incident, store.timeline(incident.id), config)
    generated, first = render.markdown(draft), render.prompts(draft)
    outcome = drafts.save(incident.id, draft.basis, generated, first, lambda notes: render.html(draft, notes))
    if outcome == SUPERSEDED:
        return outcome  # a newer draft is there; its own message publishes and tells
    url = draft_url(incident.id)
    if wiki is not None:
        try:
            url = wiki.publish(incident.id, draft.basis, generated, first) or url
        except DependencyUnavailable:
            raise  # the queue delivers the message again later: the wiki, then the card
        except FirebellError as refusal:  # refused for good (credentials, permissions): the draft stays in storage
            log.error("postmortems: %s not published to the wiki: %s", incident.id, refusal.detail)
    if ready is not None:
        ready(incident, url)
    log.info("postmortems: %s draft %s", incident.id, outcome)
    return outcome


def card_once(notifier: Notifier, now: datetime, delivery: int) -> Ready:
    """Tell the incident's channel once, through the card ledger, that its review draft is ready; nothing when no
    channel is configured (notifications says so on the timeline)."""

    def ready(incident: Incident, url: str) -> None:
        channel = notifier.channel(incident)
        key = f"card-{cards.REVIEW}-{incident.id}"
        if channel is None or notifier.ledger.sent(incident.id, key):
            return
        message = cards.review_card(incident, url, notifier.links(incident))
        notifier.send_once(incident, key, channel, message, now, delivery)

    return ready


@dataclass(frozen=True)
class Moved:
    incident: Incident
    event: TimelineEvent
    warning: str = ""


def start_review(store: IncidentStore, ident: str, facilitator: str | None, by: str, now: datetime) -> Moved:
    """`POST /api/incidents/{id}/postmortem`."""

    def decide(incident: Incident) -> tuple[Incident, str, dict[str, Any], str]:
        return review.start(incident, store.timeline(ident), facilitator, by, now)

    return _move(store, ident, by, now, "review-started", decide)


def close(store: IncidentStore, ident: str, policy: ReviewPolicy, by: str, now: datetime) -> Moved:
    """`POST /api/incidents/{id}/close`."""

    def decide(incident: Incident) -> tuple[Incident, str, dict[str, Any], str]:
        return (*review.close(incident, policy, by, now), "")

    return _move(store, ident, by, now, "closed", decide)


def _move(
    store: IncidentStore,
    ident: str,
    by: str,
    now: datetime,
    what: str,
    decide: Callable[[Incident], tuple[Incident, str, dict[str, Any], str]],
) -> Moved:
    """Decide on the stored state, write the event, then save the state under its ETag; decided again on a
    conflict, taking back the event of the attempt that lost. A refusal raises before anything is written."""
    written: list[TimelineEvent] = []
    for _ in attempts():
        stored = store.load_incident(ident)
        if stored is None:
            store.take_back(written)
            raise NotFound(f"there is no incident {ident}")
        try:
            changed, text, data, warning = decide(stored.incident)
        except InvalidInput:
            store.take_back(written)
            raise
        # Named by the version the change makes: a retry that lost its race names a new event for its new decision.
        event = TimelineEvent(
            incident_id=ident,
            event_id=event_id(now, f"api-{what}-v{changed.version}"),
            kind=STATUS_CHANGED,
            at=now,
            recorded_at=now,
            actor=by,
            source="api",
            text=text,
            data=data,
        )
        written = store.recorded_first([event], written)
        try:
            store.save_incident(changed, stored.etag, was_open=stored.incident.is_open)
        except IncidentChanged:
            continue
        return Moved(changed, event, warning)
    store.take_back(written)
    raise StorageUnavailable(f"{ident} kept changing; try again")
