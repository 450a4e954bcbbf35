"""The `statuspage` queue: re-render the public status site and publish it to `$web`.

Three promises:
- **Never backwards.** A render's state version is the sum of the `version` of every incident and maintenance it
  read. Versions only grow and nothing is deleted, so a render that began reading after another finished reading
  has a version at least as high. Each blob carries the version it shows, and site_publisher writes a blob only
  over an older version, conditionally on its ETag: two renders racing, on one instance or two, leave the newer.
- **Coalesced.** A change message is covered by any published render that began reading after the change was
  stored: the change is stored before its message is enqueued, so before the message is received and before its
  insertion time (plus a second: those times are whole seconds). The published `index.html` names when its render
  began reading (`read_at`), so any instance can tell, with one read, that a message needs no render of its own;
  renders on one instance are serialised and at least MIN_RENDER_INTERVAL apart, so the messages that waited for
  a render are settled by it, and a backlog by the first render that began after it was enqueued. A lone change
  is published at once; a stream of them costs at most a render a second per instance.
- **Final state shown.** A message is settled only once the published index began reading after the message's
  change (a render that lost to a newer one which read earlier renders again), so the render that settles the
  last change shows the final state, and anything published after it has a version at least as new.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from shared.catalog.services import Catalog
from shared.core import telemetry
from shared.core.errors import InvalidInput
from shared.core.queues import STATUSPAGE
from shared.core.settings import DEVELOPMENT_ID_KEY
from shared.core.storage import StorageAccount
from shared.core.timeutil import iso, parse_instant, utc_now
from shared.incidents.changes import ChangeMessage
from shared.incidents.incident import Incident
from shared.incidents.store import IncidentStore
from shared.statuspage.maintenance import Maintenance
from shared.statuspage.maintenance_intake import EARLY_TOLERANCE, send_at
from shared.statuspage.maintenance_store import MaintenanceStore
from shared.statuspage.web_store import (
    INDEX,
    FileVersion,
    PublishedFile,
    PublishReport,
    publish,
    published_file,
    published_files,
    withdraw,
)

if TYPE_CHECKING:
    from shared.statuspage.site import SiteFile

log = logging.getLogger("firebell.statuspage")


class SiteSettings(NamedTuple):
    """What a render needs besides the store, read at each render (settings can change under a running app)."""

    title: str
    catalog: Catalog
    url: str
    id_key: bytes = DEVELOPMENT_ID_KEY.encode()  # keys the public incident ids (STATUS_PAGE_ID_KEY)


# Another instance's clock may differ a little from ours, and the queue's insertion times are whole seconds: a
# render covers a message when it began reading after the message reached us (by our own clock, for our renders;
# CLOCK_SKEW later for another instance's), or 1 s + CLOCK_SKEW after the message's insertion time.
CLOCK_SKEW = timedelta(seconds=0.5)
COVER_MARGIN = timedelta(seconds=1) + CLOCK_SKEW
# A render that follows another sooner than this waits out the rest first: a steady stream of changes then costs
# at most one render a second per instance, not one per queue batch (the site is cached 30 s anyway).
MIN_RENDER_INTERVAL = timedelta(seconds=1)
_RENDERS_PER_MESSAGE = 3  # a message whose render keeps losing to renders that read earlier gives up, and retries
_INCIDENT_PAGE = re.compile(r"incidents/([a-z2-7]+)\.html")
_INCIDENT_PAGES = re.compile(r"incidents/[^/]+\.html")  # any incident page, public id or (from before them) INC-n


def state_version(incidents: list[Incident], maintenances: list[Maintenance]) -> int:
    """Grows with every change to anything the site shows (every change bumps a version; nothing is deleted)."""
    return sum(incident.version for incident in incidents) + sum(maintenance.version for maintenance in maintenances)


@dataclass(frozen=True)
class Refresh:
    """What a message asks for: a published site whose render began reading after the change the message announces
    was stored (the change is stored before its message is enqueued), and not before `moment` when given."""

    received_at: datetime  # this instance's clock: when the message reached the function
    inserted_at: datetime | None = None  # the queue's clock, whole seconds
    moment: datetime | None = None  # a maintenance start or end the render must not precede

    def covered_by_own(self, read_at: datetime) -> bool:
        """By a render of this instance (same clock as `received_at`)."""
        bound = self.received_at
        if self.inserted_at is not None:
            bound = min(bound, self.inserted_at + COVER_MARGIN)
        return read_at >= max(bound, self.moment or bound)

    def covered_by_published(self, read_at: datetime) -> bool:
        """By a render of any instance, as the published index's metadata tells it (another clock, perhaps)."""
        bound = self.received_at + CLOCK_SKEW
        if self.inserted_at is not None:
            bound = min(bound, self.inserted_at + COVER_MARGIN)
        return read_at >= max(bound, self.moment or bound)


@functools.cache
def renderer_fingerprint() -> str:
    """Which build of the renderer and its templates wrote a page: a deployment that changes them re-renders every
    incident page once (other pages are rendered every time)."""
    package = Path(__file__).resolve().parent
    sources = [path for path in package.rglob("*") if path.is_file() and path.suffix in (".py", ".html", ".css")]
    digest = hashlib.sha256()
    for path in sorted(sources):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


class SitePublisher:
    """Renders and publishes the site for one instance, coalescing bursts of change messages.

    Renders on one instance are serialised. Before rendering, a message is checked against the newest published
    render (this instance's memory first, then the published index's metadata), so a burst costs few renders.
    Only incident pages behind the store (or written by another renderer build) are rendered again.
    Hooks for tests that interleave two publishers: `before_publish` gets the rendered files between reading the
    store and publishing them, `on_checked` runs between reading a blob's version and writing it.
    """

    def __init__(
        self,
        account: StorageAccount,
        site: Callable[[], SiteSettings],
        *,
        clock: Callable[[], datetime] = utc_now,
        before_publish: Callable[[list[SiteFile]], None] | None = None,
        on_checked: Callable[[str], None] | None = None,
    ) -> None:
        self.account = account
        self._site = site
        self._incidents = IncidentStore(account)
        # Public words come only with a change of the incident (its version): a timeline read once per version.
        self._timelines: dict[str, tuple[int, list[Any]]] = {}
        self._maintenances = MaintenanceStore(account)
        self._clock = clock
        self._before_publish = before_publish
        self._on_checked = on_checked
        self._lock = threading.Lock()
        self._own_read_at: datetime | None = None  # our newest render whose index was published
        self._published_read_at: datetime | None = None  # the newest published index seen (any instance)
        self._last_began: datetime | None = None  # when this publisher's last render began
        self.renders = 0  # renders performed by this publisher (the burst benchmark and tests read it)

    def covers(self, request: Refresh) -> bool:
        """True when a published render covers the request: ours from memory, else any from the index's metadata."""
        if self._own_read_at is not None and request.covered_by_own(self._own_read_at):
            return True
        if self._published_read_at is not None and request.covered_by_published(self._published_read_at):
            return True
        index = published_file(self.account, INDEX)
        self._saw(index.version if index else None)
        return self._published_read_at is not None and request.covered_by_published(self._published_read_at)

    def clock(self) -> datetime:
        return self._clock()

    def changed_at(self, body: bytes) -> datetime | None:
        """When Firebell recorded the change a message announces (its last event), for the publish lag; None for a
        message that names no incident event (maintenance, unreadable)."""
        try:
            change = ChangeMessage.parse(body)
        except InvalidInput:
            return None
        events = self._incidents.events(change.incident, change.events[-1:])
        return events[0].recorded_at if events else None

    def about_drill(self, body: bytes) -> bool:
        """Whether a message announces a change of a drill, which the public site never shows: one point read."""
        try:
            change = ChangeMessage.parse(body)
        except InvalidInput:
            return False  # a maintenance message, or unreadable: it refreshes
        incident = self._incidents.get_incident(change.incident)
        return incident is not None and incident.drill

    def refresh(self, request: Refresh | None = None, moot: Callable[[], bool] | None = None) -> int:
        """Make sure the published site covers `request` (a render from now when None); returns the number of files
        written (0 when a published render covers it already, or when `moot` says before a render that the request
        needs none: asked once, and only when a render would follow, so a covered message costs it nothing)."""
        request = request or Refresh(received_at=self._clock())
        early = (request.moment - self._clock()).total_seconds() if request.moment else 0.0
        if early > 0:
            time.sleep(early)  # a start or end shown a little early (clocks): the render must not precede it
        with self._lock:
            written = 0
            for attempt in range(_RENDERS_PER_MESSAGE):
                if self.covers(request):
                    return written
                if attempt == 0 and moot is not None and moot():
                    return written
                if self._last_began is not None:
                    pause = (self._last_began + MIN_RENDER_INTERVAL - self._clock()).total_seconds()
                    if pause > 0:
                        time.sleep(pause)  # the messages arriving meanwhile are settled by the render that follows
                report = self.render_and_publish()
                written += len(report.written)
            log.warning(
                "status page: a message is still not covered after %d renders; it will retry", _RENDERS_PER_MESSAGE
            )
            raise RuntimeError("status page renders kept losing to renders that began reading earlier")

    def _timeline(self, ident: str, version: int) -> list[Any]:
        cached = self._timelines.get(ident)
        if cached is None or cached[0] != version:
            cached = self._timelines[ident] = (version, self._incidents.timeline(ident))
        return cached[1]

    def render_and_publish(self) -> PublishReport:
        """One render: read the store, render what is behind, publish it; the index is published last."""
        # The renderer (Jinja2 and the templates) loads with the first render, not at every function's cold start.
        from shared.statuspage.public_ids import public_id
        from shared.statuspage.public_view import is_published, status_page, timelines_needed
        from shared.statuspage.site import render_site

        began = self._last_began = self._clock()
        read_at = began.replace(microsecond=began.microsecond // 1000 * 1000)  # as published: milliseconds
        known = published_files(self.account)  # before the store: a page published since is newer, never older
        # Drills are never public: they are not read further, nor do their changes count in the state version.
        incidents = [incident for incident in self._incidents.list_incidents() if not incident.drill]
        maintenances = self._maintenances.list_maintenances()
        state = state_version(incidents, maintenances)
        renderer = renderer_fingerprint()
        title, catalog, site_url, id_key = self._site()
        # Only what the publication policy allows is read further, rendered or published, under its public id.
        shown = [incident for incident in incidents if is_published(incident, catalog)]
        public_ids = {incident.id: public_id(incident.id, id_key) for incident in shown}
        behind = [
            incident.id
            for incident in shown
            if _page_behind(known.get(_page(public_ids[incident.id])), incident, renderer)
        ]
        # Public update histories and component status spans live on the timelines: read only those this render
        # needs (each once per incident version on this instance).
        versions = {incident.id: incident.version for incident in shown}
        needed = timelines_needed(shown, behind, read_at)
        timelines = {ident: self._timeline(ident, versions[ident]) for ident in needed}
        page = status_page(
            title,
            catalog,
            shown,
            timelines,
            maintenances=maintenances,
            now=read_at,
            site_url=site_url,
            id_key=id_key,
        )
        files = render_site(page, [public_ids[ident] for ident in behind])
        self.renders += 1
        if self._before_publish is not None:
            self._before_publish(files)
        subjects = {public_ids[incident.id]: incident.version for incident in shown}

        def version_of(site_file: SiteFile) -> FileVersion:
            match = _INCIDENT_PAGE.fullmatch(site_file.path)
            subject = subjects.get(match.group(1), state) if match else state
            return FileVersion(subject=subject, state=state, read_at=read_at, renderer=renderer)

        report = publish(self.account, files, version_of, known, self._on_checked)
        if INDEX in report.written:
            self._own_read_at = began
            # Pages the index no longer links to, listed before this render read the store, so written from data no
            # newer than ours: incidents the policy no longer shows, and `INC-n` pages from before public ids.
            pages = {_page(public) for public in public_ids.values()}
            stale = [f for path, f in known.items() if _INCIDENT_PAGES.fullmatch(path) and path not in pages]
            withdrawn = withdraw(self.account, stale)
            if withdrawn:
                log.info("status page: %d incident pages withdrawn", len(withdrawn))
        self._saw(report.versions.get(INDEX))
        log.info(
            "status page: state %d read at %s, %d written, %d kept (newer or same already published)",
            state,
            iso(read_at),
            len(report.written),
            len(report.kept),
        )
        return report

    def _saw(self, index: FileVersion | None) -> None:
        if index is not None and (self._published_read_at is None or index.read_at > self._published_read_at):
            self._published_read_at = index.read_at


def _page(public_id: str) -> str:
    return f"incidents/{public_id}.html"


def _page_behind(published: PublishedFile | None, incident: Incident, renderer: str) -> bool:
    version = published.version if published else None
    return version is None or version.subject < incident.version or version.renderer != renderer


def _message_moment(body: bytes) -> datetime | None:
    """The start or end a delayed maintenance message stands for; None for every other message."""
    try:
        document = json.loads(body)
        return parse_instant(document["at"]) if isinstance(document, dict) and "at" in document else None
    except (ValueError, TypeError, KeyError, OverflowError):
        return None


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def on_message(body: bytes, inserted_at: datetime | None, now: datetime, publisher: SitePublisher) -> int:
    """One `statuspage` message: the site is rendered from the store, so the message only says why and when (an
    unreadable one still refreshes). Returns the number of files written."""
    moment = _message_moment(body)
    if moment is not None and moment - now > EARLY_TOLERANCE:
        # Shown before its moment: a window more than 7 days ahead (see MAX_DELAY), so wait the rest in the queue.
        send_at(publisher.account.queue(STATUSPAGE), body.decode(), moment, now)
        return 0
    # A drill's change is moot: nothing public changed, and a render would only rewrite the site's times.
    request = Refresh(received_at=now, inserted_at=_utc(inserted_at), moment=moment)
    drill: list[bool] = []

    def moot() -> bool:
        drill.append(publisher.about_drill(body))
        return drill[-1]

    written = publisher.refresh(request, moot=moot)
    if telemetry.enabled() and not any(drill):  # one point read, only when someone collects the figure (no drill's)
        changed_at = publisher.changed_at(body)
        if changed_at is not None:
            telemetry.observe(telemetry.PUBLISH_LAG, max(0.0, (publisher.clock() - changed_at).total_seconds()))
    return written
