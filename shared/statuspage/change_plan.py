"""The next state of the status site after a change, planned from the site's record and what changed since it was
read: the files about everything, the pages of the incidents that changed and the month pages that list them.

Pure: the publisher reads the open incidents, those settled since the record's reading and the maintenances, and
hands in how to read a timeline or a month's list; only those the change touches are read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime

from shared.incidents.incident import Incident
from shared.incidents.timeline import TimelineEvent
from shared.statuspage.maintenance import Maintenance
from shared.statuspage.public_ids import public_id
from shared.statuspage.public_view import assemble_page, is_published, public_incident
from shared.statuspage.site import render_site
from shared.statuspage.site_plan import SitePlan, incident_page
from shared.statuspage.site_record import Known, SiteRecord, merged_list, month_of, newer, newest_first, reached
from shared.statuspage.site_settings import SiteSettings


def plan_changes(
    record: SiteRecord,
    settings: SiteSettings,
    read_at: datetime,
    fresh: Mapping[str, Incident],
    maintenances: Sequence[Maintenance],
    *,
    timeline: Callable[[str, int], list[TimelineEvent]],
    listed: Callable[[date], Mapping[str, Known]],
) -> SitePlan:
    """The next state from the record: `fresh` holds the open incidents, those settled since the record's reading and
    those it showed open; the rest of what the windows reach is the record's. `timeline(ident, version)` and
    `listed(month)` (a month page's list as stored) are asked only for the incidents and months the change touches."""
    title, catalog, site_url, id_key = settings
    carried = {} if record.published else {k.ident: k for k in record.pending}
    window = {k.ident: k for k in record.incidents}
    changed: dict[str, Known] = {}
    current = dict(window)
    for incident in fresh.values():
        if incident.drill:
            continue  # never public, then or now
        month = month_of(incident.declared_at.astimezone(UTC))
        before = newer(window.get(incident.id), carried.get(incident.id))
        if before is None and not incident.is_open:
            before = listed(month).get(incident.id)
        public = is_published(incident, catalog)
        if before is not None and before.version >= incident.version and not incident.is_open:
            continue  # as the site shows it already
        if not public:
            current.pop(incident.id, None)
            if before is not None and before.public is not None:
                changed[incident.id] = Known.of(incident, None)
            continue
        known = Known.of(incident, public_incident(incident, timeline(incident.id, incident.version), id_key, read_at))
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
    lists = {month: merged_list(listed(month), [k for k in pending.values() if k.month == month]) for month in touched}
    pages = {month: tuple(k.public for k in newest_first(known) if k.public) for month, known in lists.items()}
    archive = (set(record.months) - touched) | {month for month, shown in pages.items() if shown}
    rendered = {k.public.id for k in pending.values() if k.public is not None}
    starts = [k.public.started_at for k in current.values() if k.public]
    oldest = min([record.oldest, *starts], default=None, key=_instant)
    if any(k.public is None for k in pending.values()) and archive:
        # A withdrawal may have taken the oldest: the oldest left began in the earliest month that has a page.
        earliest = min(archive)
        in_earliest = lists[earliest] if earliest in lists else tuple(listed(earliest).values())
        oldest = min([*starts, *(k.public.started_at for k in in_earliest if k.public)], default=None)
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
    next_record = SiteRecord(
        state=record.state + 1,
        read_at=read_at,
        fingerprint=record.fingerprint,
        oldest=oldest,
        months=tuple(sorted(archive)),
        incidents=reached(current.values(), read_at),
        pending=tuple(pending.values()),
        files=record.files,
    )
    withdrawn = {incident_page(public_id(k.ident, id_key)): k.version for k in pending.values() if k.public is None}
    subjects = {k.public.id: k.version for k in pending.values() if k.public is not None}
    return SitePlan(record=next_record, files=files, subjects=subjects, lists=lists, withdrawn=withdrawn, listing=None)


def _instant(moment: datetime | None) -> datetime:
    return moment or datetime.max.replace(tzinfo=UTC)
