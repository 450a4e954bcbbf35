"""The `statuspage` queue: publish the public status site to `$web`, rendering only what changed.

What a render reads does not grow with the history. The site's private record (shared.statuspage.site_record, in
the private `statuspage` container) holds the last claimed state: the public incidents some window of the page
reaches, in public words, and the months that have pages. A render reads it, the open incidents (the open index),
the incidents settled since the record's render began reading (the `settled-` rows every change that leaves an
incident not open writes in its transaction, looked for from SETTLED_LOOKBACK before: they carry their writer's
clock, taken before the write committed), and the maintenances changed since this publisher last read them (its
first render reads them all). It renders the files about everything, the pages of the incidents that changed and
the month pages that list them (each month's list is kept privately beside the record; a withdrawn incident stays
on it without public words, and a month it empties shows no incidents). The whole site is rendered from the whole
store only without a record, when the renderer build or the site's settings changed, while the open index is
incomplete, or when the operator asks (render-site); it rewrites every month's list and page, and after a lost claim
reads only what changed since its reading.

Three promises:
- **Never backwards.** The state version is claimed: a render reads the record (its ETag), renders, and claims the
  next state by a conditional write of the record; a render that loses the claim reads again. A claimed state is
  the one before it plus what its render read after reading it, and the one before reflects every change stored
  before its render began reading (open incidents are in the open index; settled ones are in its record or among
  the settled rows since), so a higher state never knows less. Each blob carries the state it shows (an incident
  page also its incident's version), and web_store writes a blob only over an older version, conditionally on its
  ETag: two renders racing, on one instance or two, leave the newer. A state is claimed before its files are
  written, and the pages it changes stay in the record (`pending`) until a render has published all of its files,
  so a render that stops after its claim is finished by the next one, whichever instance renders it.
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

A settled row stamped more than SETTLED_LOOKBACK before its write committed (storage retrying one request for
minutes) would be missed by a publish after a change; the hourly refresh looks back HEAL_LOOKBACK, and render-site
reads everything.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from shared.catalog.services import Catalog
from shared.core import telemetry
from shared.core.contention import attempts
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
    PublishContention,
    PublishedFile,
    PublishReport,
    publish,
    published_file,
    published_files,
    withdraw,
)

if TYPE_CHECKING:
    from shared.statuspage.public_view import StatusPage
    from shared.statuspage.record_store import MonthLists
    from shared.statuspage.site import SiteFile
    from shared.statuspage.site_record import Known, SiteRecord

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
_MONTH_PAGE = re.compile(r"history/\d{4}-\d{2}\.html")
_PER_SUBJECT = re.compile(r"(incidents|history)/")  # incident and month pages: the record keeps only the others
_CLAIMS = 10  # renders that lost the claim of the next state to another render read again, up to this many times
# Settled incidents are looked for from a while before the record's reading: the rows carry their writer's clock,
# taken before the write committed. Wider than clocks differ and a write takes; the hourly refresh looks further.
SETTLED_LOOKBACK = timedelta(minutes=5)
_TIMELINES_KEPT = 5_000  # incident timelines kept in memory (a full render reads those of the last 90 days)
HEAL_LOOKBACK = timedelta(hours=2)


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
        self._incidents = IncidentStore(account, clock)
        # Public words come only with a change of the incident (its version): a timeline read once per version, the
        # most recently used kept.
        self._timelines: OrderedDict[str, tuple[int, list[Any]]] = OrderedDict()
        self._maintenances = MaintenanceStore(account)
        # Every maintenance as last read, and when that reading began: later renders read only those changed since.
        self._windows: dict[str, Maintenance] = {}
        self._windows_read_at: datetime | None = None
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

    def refresh(
        self,
        request: Refresh | None = None,
        moot: Callable[[], bool] | None = None,
        lookback: timedelta = SETTLED_LOOKBACK,
    ) -> int:
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
                report = self.render_and_publish(lookback)
                written += len(report.written)
            log.warning(
                "status page: a message is still not covered after %d renders; it will retry", _RENDERS_PER_MESSAGE
            )
            raise RuntimeError("status page renders kept losing to renders that began reading earlier")

    def _timeline(self, ident: str, version: int) -> list[Any]:
        cached = self._timelines.get(ident)
        if cached is None or cached[0] != version:
            cached = self._timelines[ident] = (version, self._incidents.timeline(ident))
            if len(self._timelines) > _TIMELINES_KEPT:
                self._timelines.popitem(last=False)
        self._timelines.move_to_end(ident)
        return cached[1]

    def _maintenance_windows(self, began: datetime, lookback: timedelta | None) -> list[Maintenance]:
        """Every maintenance: read in full by a full render (`lookback` None) and by this publisher's first render;
        then only those declared or changed since the last reading began, less `lookback` (their writers' clocks)."""
        since = self._windows_read_at
        if lookback is None or since is None:
            self._windows = {}
        changed = self._maintenances.list_maintenances(None if since is None or lookback is None else since - lookback)
        for window in changed:
            known = self._windows.get(window.id)
            if known is None or known.version <= window.version:
                self._windows[window.id] = window
        self._windows_read_at = began
        return sorted(self._windows.values(), key=lambda m: int(m.id.partition("-")[2]))

    def render_and_publish(self, lookback: timedelta = SETTLED_LOOKBACK, *, whole: bool = False) -> PublishReport:
        """One render: read what changed since the published state, render what it changes, claim the next state,
        publish (the index last). The whole site is rendered when there is no record of it, or it was rendered by
        another build or with other settings (or the open index is not complete). `lookback`: how far before the
        record's reading to look for settled incidents (SETTLED_LOOKBACK; the hourly refresh looks further).
        `whole`: from the whole store, whatever the record says (the operator's render-site)."""
        # The record, like the renderer, loads with the first render, not at every function's cold start.
        from shared.statuspage.record_store import read_record, write_record

        everything: _Everything | None = None  # a full render's incidents, kept across a lost claim
        for _attempt in attempts(_CLAIMS):
            began = self._last_began = self._clock()
            read_at = began.replace(microsecond=began.microsecond // 1000 * 1000)  # as published: milliseconds
            record, etag = read_record(self.account)
            settings = self._site()
            fingerprint = site_fingerprint(settings, renderer_fingerprint())
            plan = None
            incremental = record is not None and record.fingerprint == fingerprint and not whole
            if incremental and record is not None and (record.published or not record.whole):
                plan = self._changes(record, settings, read_at, lookback)
            if plan is None:
                listing = published_files(self.account)  # before the store: a page published since is newer
                everything = self._everything(everything, read_at)
                plan = self._whole_site(record, settings, read_at, fingerprint, listing, everything)
            claimed = write_record(self.account, plan.record, etag)
            if claimed is None:
                continue  # another render claimed the next state since we read the record: read again
            self.renders += 1
            return self._publish(plan, claimed, began)
        raise PublishContention(f"the site's record changed under every one of {_CLAIMS} renders")

    def _changes(
        self, record: SiteRecord, settings: SiteSettings, read_at: datetime, lookback: timedelta
    ) -> _Plan | None:
        """The next state from the record: the open incidents (the open index), those settled since the record was
        read (the settled rows), and the maintenances are read; the rest of what the windows reach is the record's."""
        from shared.statuspage.public_ids import public_id
        from shared.statuspage.public_view import assemble_page, is_published, public_incident
        from shared.statuspage.record_store import MonthLists
        from shared.statuspage.site import render_site
        from shared.statuspage.site_record import Known, SiteRecord, month_of, newer, newest_first, reached

        open_now = self._incidents.open_incidents()
        if open_now is None:
            return None  # incidents stored before the open index: read them all
        title, catalog, site_url, id_key = settings
        fresh = {incident.id: incident for incident in open_now}
        last_open = [k.ident for k in record.incidents if k.public is not None and k.public.is_open]
        for ident in [*self._incidents.settled_since(record.read_at - lookback), *last_open]:
            if ident not in fresh:
                incident = self._incidents.get_incident(ident)
                if incident is not None:
                    fresh[ident] = incident
        maintenances = self._maintenance_windows(read_at, lookback)
        carried = {} if record.published else {k.ident: k for k in record.pending}
        window = {k.ident: k for k in record.incidents}
        months = MonthLists(self.account)  # read once each, as needed
        changed: dict[str, Known] = {}
        current = dict(window)
        for incident in fresh.values():
            if incident.drill:
                continue  # never public, then or now
            month = month_of(incident.declared_at.astimezone(UTC))
            before = newer(window.get(incident.id), carried.get(incident.id))
            if before is None and not incident.is_open:
                before = months.known(month).get(incident.id)
            public = is_published(incident, catalog)
            if before is not None and before.version >= incident.version and not incident.is_open:
                continue  # as the site shows it already
            if not public:
                current.pop(incident.id, None)
                if before is not None and before.public is not None:
                    changed[incident.id] = Known(incident.id, incident.number, incident.version, month, None)
                continue
            timeline = self._timeline(incident.id, incident.version)
            known = Known(
                incident.id,
                incident.number,
                incident.version,
                month,
                public_incident(incident, timeline, id_key, read_at),
            )
            current[incident.id] = known
            if before is None or before.version < incident.version or before.public is None:
                changed[incident.id] = known
        # What this state's render publishes beyond the files about everything: its own changes, and those of the
        # states before it whose renders may not have published theirs.
        pending = {**carried, **changed}
        for ident, k in pending.items():
            if ident in current and current[ident].version > k.version:
                pending[ident] = current[ident]
        touched = {k.month for k in pending.values()}
        lists = {month: months.merged(month, [k for k in pending.values() if k.month == month]) for month in touched}
        pages = {month: tuple(k.public for k in newest_first(known) if k.public) for month, known in lists.items()}
        archive = (set(record.months) - touched) | {month for month, listed in pages.items() if listed}
        rendered = {k.public.id for k in pending.values() if k.public is not None}
        starts = [k.public.started_at for k in current.values() if k.public]
        oldest = min([record.oldest, *starts], default=None, key=_instant)
        if any(k.public is None for k in pending.values()) and archive:
            # A withdrawal may have taken the oldest: the oldest left began in the earliest month that has a page.
            earliest = min(archive)
            listed = lists[earliest] if earliest in lists else tuple(months.known(earliest).values())
            oldest = min([*starts, *(k.public.started_at for k in listed if k.public)], default=None)
        elif not archive:
            oldest = None
        # A page's incident is on the page too (an old one outside every window, for this render only).
        extra = [k for k in pending.values() if k.public is not None and k.ident not in current]
        shown = newest_first([*current.values(), *extra])
        page = assemble_page(
            title, catalog, tuple(k.public for k in shown if k.public), maintenances, read_at, site_url, oldest
        )
        # A month emptied by a withdrawal is rendered too, as one without incidents (it leaves the archive).
        files = render_site(page, rendered, pages, archive)
        state = record.state + 1
        next_record = SiteRecord(
            state=state,
            read_at=read_at,
            fingerprint=record.fingerprint,
            oldest=oldest,
            months=tuple(sorted(archive)),
            incidents=reached(current.values(), read_at),
            pending=tuple(pending.values()),
            files=record.files,
        )
        withdrawn = {_page(public_id(k.ident, id_key)): k.version for k in pending.values() if k.public is None}
        subjects = {k.public.id: k.version for k in pending.values() if k.public is not None}
        return _Plan(
            record=next_record,
            files=files,
            subjects=subjects,
            lists=lists,
            withdrawn=withdrawn,
            listing=None,
            months=months,
        )

    def _everything(self, before: _Everything | None, read_at: datetime) -> _Everything:
        """Every incident: read in full once; after a lost claim, only what changed since that reading is read again
        (the open incidents, those settled since, those that were open), so change-driven renders that claim
        meanwhile do not make a full render read the whole history again and again."""
        open_now = self._incidents.open_incidents() if before is not None else None
        if before is None or open_now is None:
            return _Everything(read_at, {incident.id: incident for incident in self._incidents.list_incidents()})
        incidents = {**before.incidents, **{incident.id: incident for incident in open_now}}
        open_ids = {incident.id for incident in open_now}
        was_open = [ident for ident, incident in before.incidents.items() if incident.is_open]
        for ident in {*self._incidents.settled_since(before.read_at - SETTLED_LOOKBACK), *was_open}:
            if ident not in open_ids:
                incident = self._incidents.get_incident(ident)
                if incident is not None:
                    incidents[ident] = incident
        return _Everything(read_at, incidents)

    def _whole_site(
        self,
        record: SiteRecord | None,
        settings: SiteSettings,
        read_at: datetime,
        fingerprint: str,
        known: dict[str, PublishedFile],
        stored: _Everything,
    ) -> _Plan:
        """The whole site from every stored incident, read after the whole container was listed (`known`)."""
        from shared.statuspage.public_ids import public_id
        from shared.statuspage.public_view import is_published, status_page, timelines_needed
        from shared.statuspage.record_store import listed_months
        from shared.statuspage.site import render_site
        from shared.statuspage.site_record import Known, SiteRecord, month_of, newest_first, reached

        renderer = renderer_fingerprint()
        # Drills are never public: they are not read further.
        incidents = sorted((i for i in stored.incidents.values() if not i.drill), key=lambda i: i.number)
        maintenances = self._maintenance_windows(read_at, None)
        title, catalog, site_url, id_key = settings
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
        behind_ids = {public_ids[ident] for ident in behind}

        def in_public_words() -> tuple[StatusPage, list[Known]]:
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
            by_public = {public.id: public for public in page.incidents}
            everything = [
                Known(
                    incident.id,
                    incident.number,
                    incident.version,
                    month_of(incident.declared_at.astimezone(UTC)),
                    by_public[public_ids[incident.id]] if incident.id in public_ids else None,
                )
                for incident in incidents
            ]
            return page, everything

        page, everything = in_public_words()
        # The record keeps its incidents in full public words, as a render after a change makes them: the few it
        # keeps beyond what this page needed (spare recent ones, a component's last two) are read and rendered again.
        missing = [k.ident for k in reached(everything, read_at) if k.ident not in timelines]
        if missing:
            timelines.update((ident, self._timeline(ident, versions[ident])) for ident in missing)
            page, everything = in_public_words()
        by_month: dict[date, tuple[Known, ...]] = {}
        for k in everything:
            by_month[k.month] = (*by_month.get(k.month, ()), k)
        public_months = {k.month for k in everything if k.public is not None}
        # Every month with a list or a page before is rewritten, so one emptied by withdrawals shows nothing and its
        # list keeps its withdrawn incidents without public words (a later change never brings them back).
        paged = {date.fromisoformat(m[8:15] + "-01") for m in known if _MONTH_PAGE.fullmatch(m)}
        lists = {month: by_month.get(month, ()) for month in public_months | paged | listed_months(self.account)}
        months = {
            month: tuple(k.public for k in newest_first(listed) if k.public)
            for month, listed in lists.items()
            if month not in public_months or any(public_ids[k.ident] in behind_ids for k in listed if k.public)
        }
        files = render_site(page, behind_ids, months, public_months)
        # Above every state published before (by this scheme, or by the sum of versions before it).
        state = max([record.state if record else 0, *(f.version.state for f in known.values() if f.version)]) + 1
        next_record = SiteRecord(
            state=state,
            read_at=read_at,
            fingerprint=fingerprint,
            whole=True,
            oldest=min((public.started_at for public in page.incidents), default=None),
            months=tuple(sorted(public_months)),
            incidents=reached(everything, read_at),
        )
        # Pages the index no longer links to, listed before this render read the store, so written from data no
        # newer than ours: incidents the policy no longer shows, and `INC-n` pages from before public ids.
        pages = {_page(public) for public in public_ids.values()}
        stale = {path: None for path in known if _INCIDENT_PAGES.fullmatch(path) and path not in pages}
        subjects = {public_ids[incident.id]: incident.version for incident in shown}
        return _Plan(record=next_record, files=files, subjects=subjects, lists=lists, withdrawn=stale, listing=known)

    def _publish(self, plan: _Plan, claimed: str, began: datetime) -> PublishReport:
        """Publish a claimed state: month lists, then the files (the index last), then the record marked published."""
        from shared.statuspage.record_store import MonthLists, write_record

        record = plan.record
        renderer = renderer_fingerprint()
        if self._before_publish is not None:
            self._before_publish(plan.files)
        months = plan.months or MonthLists(self.account)
        for month, known in plan.lists.items():
            months.write(month, record.state, known)

        def version_of(site_file: SiteFile) -> FileVersion:
            match = _INCIDENT_PAGE.fullmatch(site_file.path)
            subject = plan.subjects.get(match.group(1), record.state) if match else record.state
            return FileVersion(subject=subject, state=record.state, read_at=record.read_at, renderer=renderer)

        if plan.listing is not None:
            report = publish(self.account, plan.files, version_of, plan.listing, self._on_checked)
        else:
            known = {path: PublishedFile(path, etag, version) for path, (etag, version) in record.files.items()}
            report = publish(self.account, plan.files, version_of, known, self._on_checked, listed=False)
        if INDEX in report.written:
            self._own_read_at = began
        # Withdrawn only once the index no longer links to them (or a newer index was published).
        listing = plan.listing or {}
        stale = []
        for path, version in plan.withdrawn.items():
            found = listing.get(path) or published_file(self.account, path)
            if found is not None and (version is None or found.version is None or found.version.subject < version):
                stale.append(found)
        withdrawn = withdraw(self.account, stale)
        if withdrawn:
            log.info("status page: %d incident pages withdrawn", len(withdrawn))
        files = {
            path: (f.etag, f.version)
            for path, f in report.files.items()
            if f.version is not None and not _PER_SUBJECT.match(path)
        }
        write_record(self.account, replace(record, published=True, pending=(), files=files), claimed)
        self._saw(report.versions.get(INDEX))
        log.info(
            "status page: state %d read at %s, %d written, %d kept (newer or same already published)",
            record.state,
            iso(record.read_at),
            len(report.written),
            len(report.kept),
        )
        return report

    def forget_settled(self) -> int:
        """Delete the settled rows no render will look for again: older than HEAL_LOOKBACK before the record's render
        began reading (a render reads from its record's reading, less at most HEAL_LOOKBACK, and a render that read an
        older record cannot claim). Returns how many rows went."""
        from shared.statuspage.record_store import read_record

        record, _etag = read_record(self.account)
        since = min(self._clock(), record.read_at) if record is not None else self._clock()
        return self._incidents.forget_settled(since - HEAL_LOOKBACK)

    def _saw(self, index: FileVersion | None) -> None:
        if index is not None and (self._published_read_at is None or index.read_at > self._published_read_at):
            self._published_read_at = index.read_at


class _Everything(NamedTuple):
    read_at: datetime  # when the reading began
    incidents: dict[str, Incident]


def _page(public_id: str) -> str:
    return f"incidents/{public_id}.html"


@dataclass(frozen=True)
class _Plan:
    """A rendered state before it is claimed: what it publishes."""

    record: SiteRecord  # the state to claim
    files: list[SiteFile]  # in publishing order, the index last
    subjects: Mapping[str, int]  # public id → the incident version its page shows
    lists: Mapping[date, tuple[Known, ...]]  # the month lists this state writes
    # Incident pages to withdraw once the index no longer links to them: each only while it shows its incident at an
    # older version than the one that took it off the site (None: any version, listed before the store was read).
    withdrawn: Mapping[str, int | None]
    listing: Mapping[str, PublishedFile] | None  # the whole container as listed (a whole-site render)
    months: MonthLists | None = None  # the month lists as this render read them


def _instant(moment: datetime | None) -> datetime:
    return moment or datetime.max.replace(tzinfo=UTC)


def site_fingerprint(settings: SiteSettings, renderer: str) -> str:
    """The renderer's build and every setting a render depends on: a change of any renders the whole site again (the
    catalog's publication policy, and which services are public under which component; not rosters or runbooks)."""
    title, catalog, url, id_key = settings
    services = [(service.id, service.component, service.public) for service in (*catalog.services, catalog.default)]
    site = repr((title, url, catalog.publication, services)).encode()
    digest = hashlib.sha256(site + b"\0" + id_key + b"\0" + renderer.encode())
    return digest.hexdigest()[:16]


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
