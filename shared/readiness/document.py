"""The JSON of GET /api/metrics: the window asked about and its figures. Durations in seconds, costs in the
catalog's currency rounded to cents. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.catalog.severity import label
from shared.core.timeutil import iso
from shared.readiness.distribution import Spread
from shared.readiness.fairness import Fairness
from shared.readiness.figures import Figures, Load
from shared.readiness.window import Window


def metrics_document(
    window: Window,
    figures: Figures,
    covered: tuple[datetime, datetime] | None = None,
    rotations: dict[str, Fairness] | None = None,
) -> dict[str, Any]:
    return {
        "window": {
            "from": iso(window.start),
            "to": iso(window.end),
            "service": window.service,
            "severity": label(window.severity) if window.severity else None,
        },
        "incidents": figures.incidents,
        "response": _durations(figures.response),
        "by": {
            grouping: {key: _durations(spreads) for key, spreads in groups.items()}
            for grouping, groups in figures.grouped.items()
        },
        "detection": {
            "customer_first": figures.customer_first,
            "customer_first_share": _share(figures.customer_first_share),
        },
        "load": {
            "people": {name: _load(load) for name, load in figures.load_by_person.items()},
            "rosters": {name: _load(load) for name, load in figures.load_by_roster.items()},
        },
        "cost": {
            "outage_minutes": round(figures.outage_minutes, 2),
            "total": _money(figures.cost),
            "by_service": {name: _money(cost) for name, cost in figures.cost_by_service.items()},
            "by_month": {name: _money(cost) for name, cost in figures.cost_by_month.items()},
        },
        "fairness": {
            "from": iso(covered[0]) if covered else None,
            "to": iso(covered[1]) if covered else None,
            "rosters": {roster: _fairness(found) for roster, found in (rotations or {}).items()},
        },
        "follow_ups": {"created": figures.follow_ups, "done": figures.follow_ups_done},
        "public_updates": {
            "promised": figures.updates_promised,
            "kept": figures.updates_kept,
            "late": figures.updates_late,
        },
    }


def _durations(spreads: dict[str, Spread]) -> dict[str, dict[str, Any]]:
    return {
        duration: {"count": spread.count, "median_seconds": spread.median, "p90_seconds": spread.p90}
        for duration, spread in spreads.items()
    }


def _load(load: Load) -> dict[str, Any]:
    return {"pages": load.pages, **load.by_period, "by_hour": list(load.by_hour)}


def _fairness(found: Fairness) -> dict[str, Any]:
    return {
        "shifts": found.shifts,
        "pages_per_shift": {"median": found.per_shift.median, "p90": found.per_shift.p90},
        "busiest_shift": found.busiest,
        "quiet_shifts": found.quiet,
        "people": {name: {"shifts": held, "pages": pages} for name, (held, pages) in found.people.items()},
    }


def _money(amount: float) -> float:
    return round(amount, 2)


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
