"""Which incidents a metrics query is about: declared in [from, to), optionally of one service and one severity.
Parsed from the query string of GET /api/metrics; anything it cannot read is InvalidInput naming the parameter.
Pure: the clock is a parameter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from shared.catalog.services import Catalog
from shared.catalog.severity import parse_level
from shared.core.errors import ConfigurationError, InvalidInput
from shared.core.timeutil import parse_instant
from shared.readiness.summary import IncidentSummary

DEFAULT_SPAN = timedelta(days=90)  # without `from`: the last quarter before `to`
MAX_YEARS = 10  # a query reads one digest row per month: a longer window is refused, not read for minutes
PARAMETERS = ("from", "to", "service", "severity")
FUNCTION_KEY = "code"  # the function key may come as ?code=


@dataclass(frozen=True)
class Window:
    start: datetime  # inclusive
    end: datetime  # exclusive
    service: str | None = None
    severity: int | None = None

    def month_list(self) -> list[str]:
        """Every month ("YYYY-MM") the window touches, in order."""
        last = self.end - timedelta(microseconds=1)
        year, month, months = self.start.year, self.start.month, []
        while (year, month) <= (last.year, last.month):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months

    def covers(self, month: str) -> bool:
        """Every instant of the month ("YYYY-MM", UTC) is in the window: its whole digest is the window's."""
        year, number = int(month[:4]), int(month[5:7])
        first = datetime(year, number, 1, tzinfo=UTC)
        following = datetime(year + 1, 1, 1, tzinfo=UTC) if number == 12 else datetime(year, number + 1, 1, tzinfo=UTC)
        return self.start <= first and following <= self.end

    def admits(self, summary: IncidentSummary) -> bool:
        """Declared in the window, and of its service and severity when it names them."""
        return (
            self.start <= summary.declared_at < self.end
            and (self.service is None or summary.service == self.service)
            and (self.severity is None or summary.severity == self.severity)
        )


def parse_window(params: Mapping[str, str], catalog: Catalog, now: datetime) -> Window:
    unknown = sorted(set(params) - {*PARAMETERS, FUNCTION_KEY})
    if unknown:
        raise InvalidInput(f"unknown parameter {unknown[0][:40]!r}; expected {', '.join(PARAMETERS)}")
    end = _instant(params, "to") or now
    start = _instant(params, "from") or end - DEFAULT_SPAN
    if start >= end:
        raise InvalidInput("from must be before to")
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_YEARS * 12:
        raise InvalidInput(f"the window from {start:%Y-%m-%d} to {end:%Y-%m-%d} is longer than {MAX_YEARS} years")
    service = params.get("service") or None
    if service is not None and catalog.service(service) is None:
        raise InvalidInput(f"service {service[:40]!r} is not in the service catalog")
    severity = None
    if params.get("severity"):
        try:
            severity = parse_level(params["severity"], "severity")
        except ConfigurationError as problem:
            raise InvalidInput(problem.detail) from None
    return Window(start, end, service, severity)


def _instant(params: Mapping[str, str], name: str) -> datetime | None:
    """A date (midnight UTC) or an ISO 8601 instant (UTC when it names no zone)."""
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = parse_instant(text)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{name}: {text[:40]!r} is not a date (2026-11-01) or an ISO 8601 instant") from None
    if not 1970 <= moment.year <= 9998:
        raise InvalidInput(f"{name}: {text[:40]!r} is out of range")
    return moment
