"""Time helpers: everything inside Firebell is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


EARLIEST_YEAR = 1970


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant; a value without a zone is taken as UTC (Azure Monitor sends 'Z' but not always).
    ValueError before 1970: no event Firebell hears of happened then, and Azure Tables cannot hold years before
    1601 (the Tables SDK cannot even read back a year of fewer than four digits: an alert "fired" in the year 205
    made its incident unreadable and its page fail)."""
    moment = datetime.fromisoformat(text)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment.year < EARLIEST_YEAR:
        raise ValueError(f"{text[:40]!r} is before {EARLIEST_YEAR}")
    return moment


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a 'Z', the form the status API and feeds publish."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
