"""Publish the public status site to `$web`, rendering only what changed: the shell that reads the store, claims the
next state and publishes its files. What a state holds is planned in shared.statuspage.change_plan (after a change)
and shared.statuspage.whole_site; when a message needs a render at all, in shared.statuspage.refresh (the
`statuspage` queue's messages: shared.statuspage.queue_message).

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

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from shared.core.contention import attempts
from shared.core.storage import StorageAccount
from shared.core.timeutil import iso, utc_now
from shared.incidents.incident import Incident
from shared.incidents.store import IncidentStore
from shared.statuspage.maintenance import Maintenance
from shared.statuspage.maintenance_store import MaintenanceStore
from shared.statuspage.refresh import Refresh
from shared.statuspage.site_settings import SiteSettings, renderer_fingerprint, site_fingerprint
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
    from shared.incidents.timeline import TimelineEvent
    from shared.statuspage.record_store import MonthLists
    from shared.statuspage.site import SiteFile
    from shared.statuspage.site_plan import SitePlan
    from shared.statuspage.site_record import SiteRecord

log = logging.getLogger("firebell.statuspage")

# A render that follows another sooner than this waits out the rest first: a steady stream of changes then costs
# at most one render a second per instance, not one per queue batch (the site is cached 30 s anyway).
MIN_RENDER_INTERVAL = timedelta(seconds=1)
_RENDERS_PER_MESSAGE = 3  # a message whose render keeps losing to renders that read earlier gives up, and retries
_INCIDENT_PAGE = re.compile(r"incidents/([a-z2-7]+)\.html")
_PER_SUBJECT = re.compile(r"(incidents|history)/")  # incident and month pages: the record keeps only the others
_CLAIMS = 10  # renders that lost the claim of the next state to another render read again, up to this many times
# Settled incidents are looked for from a while before the record's reading: the rows carry their writer's clock,
# taken before the write committed. Wider than clocks differ and a write takes; the hourly refresh looks further.
SETTLED_LOOKBACK = timedelta(minutes=5)
_TIMELINES_KEPT = 5_000  # incident timelines kept in memory (a full render reads those of the last 90 days)
HEAL_LOOKBACK = timedelta(hours=2)


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
        self._timelines: OrderedDict[str, tuple[int, list[TimelineEvent]]] = OrderedDict()
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

    @property
    def incidents(self) -> IncidentStore:
        """The incident store it renders from (a message's own reads go through it too)."""
        return self._incidents

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

    def _timeline(self, ident: str, version: int) -> list[TimelineEvent]:
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
        from shared.statuspage.record_store import MonthLists, listed_months, read_record, write_record
        from shared.statuspage.whole_site import plan_whole_site

        everything: _Everything | None = None  # a full render's incidents, kept across a lost claim
        for _attempt in attempts(_CLAIMS):
            began = self._last_began = self._clock()
            read_at = began.replace(microsecond=began.microsecond // 1000 * 1000)  # as published: milliseconds
            record, etag = read_record(self.account)
            settings = self._site()
            renderer = renderer_fingerprint()
            fingerprint = site_fingerprint(settings, renderer)
            months = MonthLists(self.account)  # read once each, as needed
            plan = None
            incremental = record is not None and record.fingerprint == fingerprint and not whole
            if incremental and record is not None and (record.published or not record.whole):
                plan = self._changes(record, settings, read_at, lookback, months)
            if plan is None:
                listing = published_files(self.account)  # before the store: a page published since is newer
                everything = self._everything(everything, read_at)
                plan = plan_whole_site(
                    record,
                    settings,
                    read_at,
                    fingerprint=fingerprint,
                    renderer=renderer,
                    known=listing,
                    incidents=everything.incidents.values(),
                    maintenances=self._maintenance_windows(read_at, None),
                    listed_months=listed_months(self.account),
                    timeline=self._timeline,
                )
            claimed = write_record(self.account, plan.record, etag)
            if claimed is None:
                continue  # another render claimed the next state since we read the record: read again
            self.renders += 1
            return self._publish(plan, months, claimed, began)
        raise PublishContention(f"the site's record changed under every one of {_CLAIMS} renders")

    def _changes(
        self, record: SiteRecord, settings: SiteSettings, read_at: datetime, lookback: timedelta, months: MonthLists
    ) -> SitePlan | None:
        """The next state from the record: the open incidents (the open index), those settled since the record was
        read (the settled rows), and the maintenances are read; the rest of what the windows reach is the record's.
        None while the open index is incomplete."""
        from shared.statuspage.change_plan import plan_changes

        open_now = self._incidents.open_incidents()
        if open_now is None:
            return None  # incidents stored before the open index: read them all
        last_open = [k.ident for k in record.incidents if k.public is not None and k.public.is_open]
        fresh = self._with_settled(open_now, record.read_at - lookback, last_open)
        maintenances = self._maintenance_windows(read_at, lookback)
        return plan_changes(
            record, settings, read_at, fresh, maintenances, timeline=self._timeline, listed=months.known
        )

    def _everything(self, before: _Everything | None, read_at: datetime) -> _Everything:
        """Every incident: read in full once; after a lost claim, only what changed since that reading is read again
        (the open incidents, those settled since, those that were open), so change-driven renders that claim
        meanwhile do not make a full render read the whole history again and again."""
        open_now = self._incidents.open_incidents() if before is not None else None
        if before is None or open_now is None:
            return _Everything(read_at, {incident.id: incident for incident in self._incidents.list_incidents()})
        was_open = [ident for ident, incident in before.incidents.items() if incident.is_open]
        changed = self._with_settled(open_now, before.read_at - SETTLED_LOOKBACK, was_open)
        return _Everything(read_at, {**before.incidents, **changed})

    def _with_settled(self, open_now: list[Incident], since: datetime, were_open: Iterable[str]) -> dict[str, Incident]:
        """The open incidents, and those settled since `since` (the settled rows) or open before that are open no
        more, each read once."""
        incidents = {incident.id: incident for incident in open_now}
        for ident in [*self._incidents.settled_since(since), *were_open]:
            if ident not in incidents:
                incident = self._incidents.get_incident(ident)
                if incident is not None:
                    incidents[ident] = incident
        return incidents

    def _publish(self, plan: SitePlan, months: MonthLists, claimed: str, began: datetime) -> PublishReport:
        """Publish a claimed state: month lists (`months`: as the render read them), then the files (the index last),
        then the record marked published."""
        from shared.statuspage.record_store import write_record

        record = plan.record
        renderer = renderer_fingerprint()
        if self._before_publish is not None:
            self._before_publish(plan.files)
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
