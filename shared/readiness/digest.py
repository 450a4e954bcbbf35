"""A month's digest: the summaries of every incident declared in one month, packed into one table row, so a query
over two years reads 24 rows instead of 10,000 (Azure Tables returns at most 1,000 entities a round trip, and
decoding an entity costs more than the summary it carries). Pure.

Each summary is a compact JSON array (instants as epoch seconds); the month's list is zlib-compressed and cut into
binary properties of at most 64 KiB (Tables' limit per property) — about 400 incidents a month take 15 KB, and
the 1 MiB entity holds some 100,000 before MonthTooLarge.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from shared.readiness.summary import IncidentSummary, PageTally

CHUNK = 64 * 1024
MAX_CHUNKS = 15  # 15 × 64 KiB and the keys stay under the 1 MiB entity limit
SUMMARY_FIELDS = (
    "incident_id",
    "service",
    "severity",
    "source",
    "cost_per_minute",
    "follow_ups",
    "updates_promised",
    "updates_late",
    "version",
    "events",
)
SUMMARY_INSTANTS = ("declared_at", "detected_at", "started_at", "acknowledged_at", "mitigated_at", "resolved_at")
# Fields added after digests were first written: appended after the pages, absent (their defaults) in older entries.
LATER_FIELDS = ("follow_ups_done",)


class MonthTooLarge(ValueError):
    """More incidents in one month than one row holds."""


def entry(summary: IncidentSummary) -> list[Any]:
    instants = [None if (at := getattr(summary, name)) is None else at.timestamp() for name in SUMMARY_INSTANTS]
    pages = [[t.person, t.roster, t.period, t.hour, t.count] for t in summary.pages]
    paged = [[person, at.timestamp()] for person, at in summary.paged]
    later = [getattr(summary, name) for name in LATER_FIELDS]
    return [*(getattr(summary, name) for name in SUMMARY_FIELDS), *instants, pages, paged, *later]


def summary_of(values: list[Any]) -> IncidentSummary:
    fields = dict(zip(SUMMARY_FIELDS, values, strict=False))
    at = values[len(SUMMARY_FIELDS) : len(SUMMARY_FIELDS) + len(SUMMARY_INSTANTS)]
    instants = {
        name: None if moment is None else datetime.fromtimestamp(moment, UTC)
        for name, moment in zip(SUMMARY_INSTANTS, at, strict=True)
    }
    end = len(SUMMARY_FIELDS) + len(SUMMARY_INSTANTS) + 2
    pages = tuple(PageTally(*page) for page in values[end - 2])
    paged = tuple((person, datetime.fromtimestamp(at, UTC)) for person, at in values[end - 1])
    later = dict(zip(LATER_FIELDS, values[end:], strict=False))
    return IncidentSummary(**fields, **instants, pages=pages, paged=paged, **later)


def pack(entries: Mapping[str, list[Any]]) -> dict[str, bytes]:
    """The row's binary properties d0, d1, … for the month's entries (incident id → entry)."""
    data = zlib.compress(json.dumps(sorted(entries.values()), separators=(",", ":")).encode(), 6)
    chunks = [data[start : start + CHUNK] for start in range(0, len(data), CHUNK)] or [b""]
    if len(chunks) > MAX_CHUNKS:
        raise MonthTooLarge(f"{len(entries)} incidents in one month do not fit a readiness digest row")
    return {f"d{index}": chunk for index, chunk in enumerate(chunks)}


def unpack(properties: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The entries of a row's d0, d1, … properties (incident id → entry)."""
    chunks: list[bytes] = []
    while (chunk := properties.get(f"d{len(chunks)}")) is not None:
        chunks.append(bytes(chunk))
    data = b"".join(chunks)
    return {values[0]: values for values in json.loads(zlib.decompress(data))} if data else {}


def summaries(properties: Mapping[str, Any]) -> Iterable[IncidentSummary]:
    return (summary_of(values) for values in unpack(properties).values())
