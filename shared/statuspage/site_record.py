"""The publisher's private record of the published site: enough to publish the next change without reading the
history. Pure: what the record holds, which incidents the page's windows reach, and both as JSON.

The record is private (it names incidents by `INC-n` beside their public ids), never in `$web`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.core.timeutil import iso, parse_instant
from shared.incidents.incident import Incident
from shared.statuspage.component_history import Disruption, window_start
from shared.statuspage.public_view import RECENT_LIMIT, PublicIncident, PublicUpdate
from shared.statuspage.web_store import FileVersion

# Incidents newer than the RECENT_LIMIT the JSON API and feeds list, kept beyond it: one withdrawn later (the
# policy no longer shows it) leaves the next in line still known.
RECENT_SPARE = 10
# For each component, the incidents that last touched it that are kept (see `reached`).
LAST_TOUCHES = 2
# history.html shows whole months back to the first of the month two before this one: at most 92 days ago.
MONTHS_REACH = timedelta(days=93)


@dataclass(frozen=True)
class Known:
    """An incident as the site last showed it: its version, and its public words (None: not public, or no longer)."""

    ident: str  # INC-n: private
    number: int
    version: int
    month: date  # the month page that lists it (the month it began)
    public: PublicIncident | None

    @classmethod
    def of(cls, incident: Incident, public: PublicIncident | None) -> Known:
        """The incident at its current version, shown in these public words (None: not public)."""
        month = month_of(incident.declared_at.astimezone(UTC))
        return cls(incident.id, incident.number, incident.version, month, public)


@dataclass(frozen=True)
class SiteRecord:
    """One state of the published site, claimed before its files are written.

    `state` numbers the claims: each is the one before it plus what its render read after reading it, so a higher
    state never knows less. `incidents`: those the page's windows reach (every open one among them). `pending`: the
    incidents whose pages and month pages this state's render changes, carried into the next state until a render
    has published all of its files (`published`). `files`: the files about everything as that render left them.
    """

    state: int
    read_at: datetime
    fingerprint: str  # renderer build and site settings: any change of them renders the whole site again
    published: bool = False
    whole: bool = False  # rendered from the whole store: until published, the next render renders all again too
    oldest: datetime | None = None  # when the oldest public incident began (the page's creation time)
    months: tuple[date, ...] = ()  # every month with a page under history/
    incidents: tuple[Known, ...] = ()
    pending: tuple[Known, ...] = ()
    files: Mapping[str, tuple[str, FileVersion]] = field(default_factory=dict)  # path → (ETag, version)


def newest_first(known: Iterable[Known]) -> list[Known]:
    shown = [k for k in known if k.public is not None]
    return sorted(shown, key=lambda k: (k.public.started_at, k.number), reverse=True)  # type: ignore[union-attr]


def reached(known: Iterable[Known], now: datetime) -> tuple[Known, ...]:
    """The public incidents some window of the page reaches at `now` or later (windows only slide forward): open ones,
    the most recent (the JSON API, feeds), those that ended inside the daily history, those history.html lists in
    full, and for each component the last two to touch it (when its status last changed) — newest first."""
    ordered = newest_first(known)
    history_from = window_start(now)
    months_from = now - MONTHS_REACH
    touches: dict[str, list[tuple[datetime, int, str]]] = {}
    for k in ordered:
        public = k.public
        assert public is not None
        for name, _ in public.component_statuses:
            touches.setdefault(name, []).append((public.resolved_at or now, k.number, k.ident))
    # The last two: when the last is withdrawn, the one before still says when the component's status last changed.
    latest = {ident for found in touches.values() for _, _, ident in sorted(found, reverse=True)[:LAST_TOUCHES]}
    kept = []
    for position, k in enumerate(ordered):
        public = k.public
        assert public is not None
        if (
            public.is_open
            or position < RECENT_LIMIT + RECENT_SPARE
            or (public.resolved_at or now) > history_from
            or public.started_at >= months_from
            or k.ident in latest
        ):
            kept.append(k)
    return tuple(kept)


def newer(first: Known | None, second: Known | None) -> Known | None:
    """The one at the higher version (the first at a tie); None only when both are."""
    if first is None or (second is not None and second.version > first.version):
        return second
    return first


def merged_list(listed: Mapping[str, Known], changes: Iterable[Known]) -> tuple[Known, ...]:
    """A month's list (by incident) with the changes, the newer version of each incident kept (withdrawn ones stay,
    without public words, so an older state's change never brings them back)."""
    merged = dict(listed)
    for k in changes:
        merged[k.ident] = newer(merged.get(k.ident), k) or k
    return tuple(merged.values())


def month_of(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


# --- JSON ---------------------------------------------------------------------------------------------------------
def encode_record(record: SiteRecord) -> bytes:
    document = {
        "state": record.state,
        "read_at": iso(record.read_at),
        "fingerprint": record.fingerprint,
        "published": record.published,
        "whole": record.whole,
        "oldest": iso(record.oldest) if record.oldest else None,
        "months": [month.isoformat() for month in record.months],
        "incidents": [_known(k) for k in record.incidents],
        "pending": [_known(k) for k in record.pending],
        "files": {path: [etag, version.metadata()] for path, (etag, version) in record.files.items()},
    }
    return json.dumps(document, separators=(",", ":")).encode()


def decode_record(body: bytes) -> SiteRecord | None:
    """None for a record this build cannot read (the whole site is rendered again, and a new record written)."""
    try:
        document = json.loads(body)
        files = {}
        for path, (etag, metadata) in document["files"].items():
            version = FileVersion.from_metadata(metadata)
            if version is not None:
                files[path] = (etag, version)
        return SiteRecord(
            state=int(document["state"]),
            read_at=parse_instant(document["read_at"]),
            fingerprint=document["fingerprint"],
            published=bool(document["published"]),
            whole=bool(document["whole"]),
            oldest=parse_instant(document["oldest"]) if document["oldest"] else None,
            months=tuple(date.fromisoformat(month) for month in document["months"]),
            incidents=tuple(_from_known(k) for k in document["incidents"]),
            pending=tuple(_from_known(k) for k in document["pending"]),
            files=files,
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def encode_month(state: int, known: Iterable[Known]) -> bytes:
    return json.dumps({"state": state, "incidents": [_known(k) for k in known]}, separators=(",", ":")).encode()


def decode_month(body: bytes) -> tuple[int, tuple[Known, ...]]:
    """(state, incidents); (0, ()) for a list this build cannot read (rebuilt from the changes that follow)."""
    try:
        document = json.loads(body)
        return int(document["state"]), tuple(_from_known(k) for k in document["incidents"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return 0, ()


def _known(k: Known) -> dict[str, Any]:
    return {
        "ident": k.ident,
        "number": k.number,
        "version": k.version,
        "month": k.month.isoformat(),
        "public": _incident(k.public) if k.public is not None else None,
    }


def _from_known(document: dict[str, Any]) -> Known:
    public = document["public"]
    return Known(
        ident=document["ident"],
        number=int(document["number"]),
        version=int(document["version"]),
        month=date.fromisoformat(document["month"]),
        public=_from_incident(public) if public is not None else None,
    )


def _instant(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None  # full precision: spans compare exactly


def _parsed(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def _incident(public: PublicIncident) -> dict[str, Any]:
    return {
        "id": public.id,
        "name": public.name,
        "status": public.status,
        "impact": public.impact,
        "components": list(public.components),
        "started_at": _instant(public.started_at),
        "updated_at": _instant(public.updated_at),
        "updates": [[_instant(u.at), u.status, u.body, u.key] for u in public.updates],
        "next_update_at": _instant(public.next_update_at),
        "component_statuses": [list(pair) for pair in public.component_statuses],
        "resolved_at": _instant(public.resolved_at),
        "monitoring_at": _instant(public.monitoring_at),
        "spans": [[s.component, s.status, _instant(s.start), _instant(s.end)] for s in public.spans],
    }


def _from_incident(document: dict[str, Any]) -> PublicIncident:
    return PublicIncident(
        id=document["id"],
        name=document["name"],
        status=document["status"],
        impact=document["impact"],
        components=tuple(document["components"]),
        started_at=datetime.fromisoformat(document["started_at"]),
        updated_at=datetime.fromisoformat(document["updated_at"]),
        updates=tuple(
            PublicUpdate(datetime.fromisoformat(at), status, body, key) for at, status, body, key in document["updates"]
        ),
        next_update_at=_parsed(document["next_update_at"]),
        component_statuses=tuple((name, status) for name, status in document["component_statuses"]),
        resolved_at=_parsed(document["resolved_at"]),
        monitoring_at=_parsed(document["monitoring_at"]),
        spans=tuple(
            Disruption(name, status, datetime.fromisoformat(start), datetime.fromisoformat(end))
            for name, status, start, end in document["spans"]
        ),
    )
