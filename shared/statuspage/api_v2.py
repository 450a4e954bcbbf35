"""The public status in Atlassian Statuspage's exact public JSON format (`/api/v2/*.json`), so existing Statuspage
clients — dashboards, chat bots, uptime aggregators — read Firebell's page unchanged.

Pure: a StatusPage in, plain dicts out (serialised by `json`, never by templates). Field names, nesting and types
follow the public API as the samples in tests/fixtures/statuspage/ show it. Component ids are derived from the
component's name, so they stay the same from one render to the next; incidents keep their own ids ("INC-7").
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from typing import Any

from shared.core.links import site_address
from shared.core.timeutil import iso
from shared.statuspage.component_history import OPERATIONAL
from shared.statuspage.public_view import (
    RECENT_LIMIT,
    PublicComponent,
    PublicIncident,
    PublicMaintenance,
    PublicUpdate,
    StatusPage,
)

Document = dict[str, Any]
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

# Where each document is published inside $web, and what builds it.
PATHS = (
    "api/v2/summary.json",
    "api/v2/status.json",
    "api/v2/components.json",
    "api/v2/incidents.json",
    "api/v2/incidents/unresolved.json",
    "api/v2/scheduled-maintenances.json",
    "api/v2/scheduled-maintenances/upcoming.json",
    "api/v2/scheduled-maintenances/active.json",
)


@cache
def public_id(kind: str, key: str) -> str:
    """A Statuspage-style id (12 characters of [0-9a-z]) that only depends on what it names."""
    number = int.from_bytes(hashlib.blake2b(f"{kind}\0{key}".encode(), digest_size=8).digest(), "big")
    digits = []
    for _ in range(12):
        number, digit = divmod(number, 36)
        digits.append(_ALPHABET[digit])
    return "".join(digits)


def page_url(page: StatusPage, path: str) -> str:
    """An address on the site: absolute under the page's URL when it is known, else relative to the site root."""
    return site_address(page.site_url, path)


def documents(page: StatusPage) -> dict[str, Document]:
    """Every API document, by its path in $web."""
    api = _Api(page)
    return {
        "api/v2/summary.json": api.summary(),
        "api/v2/status.json": api.status(),
        "api/v2/components.json": api.components_document(),
        "api/v2/incidents.json": api.incidents(page.incidents[:RECENT_LIMIT]),
        "api/v2/incidents/unresolved.json": api.incidents(page.active),
        "api/v2/scheduled-maintenances.json": api.maintenances(page.maintenances[:RECENT_LIMIT]),
        "api/v2/scheduled-maintenances/upcoming.json": api.maintenances(page.upcoming),
        "api/v2/scheduled-maintenances/active.json": api.maintenances(page.in_progress),
    }


class _Api:
    """One render's documents; component objects are built once and shared by every document that embeds them."""

    def __init__(self, page: StatusPage) -> None:
        self.page = page
        self.page_id = public_id("page", page.site_url or page.title)
        self.head = {
            "id": self.page_id,
            "name": page.title,
            "url": page.site_url,
            "time_zone": "Etc/UTC",
            "updated_at": iso(page.updated_at or page.now),
        }
        self.by_name = {component.name: self._component(component) for component in page.components}
        self.status_of = {component.name: component.status for component in page.components}

    def summary(self) -> Document:
        return {
            "page": dict(self.head),
            "components": self._components(),
            "incidents": [self._incident(incident) for incident in self.page.active],
            "scheduled_maintenances": [
                self._maintenance(window) for window in (*self.page.in_progress, *self.page.upcoming)
            ],
            "status": self._status(),
        }

    def status(self) -> Document:
        return {"page": dict(self.head), "status": self._status()}

    def components_document(self) -> Document:
        return {"page": dict(self.head), "components": self._components()}

    def incidents(self, incidents: tuple[PublicIncident, ...]) -> Document:
        return {"page": dict(self.head), "incidents": [self._incident(incident) for incident in incidents]}

    def maintenances(self, windows: tuple[PublicMaintenance, ...]) -> Document:
        return {"page": dict(self.head), "scheduled_maintenances": [self._maintenance(window) for window in windows]}

    def _status(self) -> Document:
        return {"indicator": self.page.indicator, "description": self.page.description}

    def _components(self) -> list[Document]:
        return [dict(self.by_name[component.name]) for component in self.page.components]

    def _component(self, component: PublicComponent) -> Document:
        return {
            "id": public_id("component", component.name),
            "name": component.name,
            "status": component.status,
            "created_at": iso(self.page.created_at),
            "updated_at": iso(component.updated_at or self.page.created_at),
            "position": component.position,
            "description": None,
            "showcase": True,  # the page shows each component's 90-day history
            "start_date": None,
            "group_id": None,
            "page_id": self.page_id,
            "group": False,
            "only_show_if_degraded": False,
        }

    def _embedded(self, name: str) -> Document:
        known = self.by_name.get(name)
        if known is not None:
            return dict(known)
        # A component that left the catalog still appears, as it is now: nothing open touches it.
        return self._component(PublicComponent(name, OPERATIONAL, 0, self.page.created_at))

    def _incident(self, incident: PublicIncident) -> Document:
        affected = dict(incident.component_statuses)
        oldest_first = list(reversed(incident.updates))
        updates = []
        for index, update in enumerate(oldest_first):
            # Each update moves the incident's components: from operational at the opening, back to it at the end.
            old = {name: OPERATIONAL if index == 0 else status for name, status in affected.items()}
            new = {name: OPERATIONAL if update.status == "resolved" else status for name, status in affected.items()}
            updates.append(self._update(incident.id, update, old, new))
        updates.reverse()
        return {
            "id": incident.id,
            "name": incident.name,
            "status": incident.status,
            "created_at": iso(incident.started_at),
            "updated_at": iso(incident.updated_at),
            "monitoring_at": _optional(incident.monitoring_at),
            "resolved_at": _optional(incident.resolved_at),
            "impact": incident.impact,
            "shortlink": page_url(self.page, f"incidents/{incident.id}.html"),
            "started_at": iso(incident.started_at),
            "page_id": self.page_id,
            "incident_updates": updates,
            "components": [self._embedded(name) for name in incident.components],
            "reminder_intervals": None,
        }

    def _update(
        self, owner: str, update: PublicUpdate, old: dict[str, str] | None, new: dict[str, str] | None
    ) -> Document:
        at = iso(update.at)
        affected = None
        if old is not None and new is not None and old:
            affected = [
                {"code": public_id("component", name), "name": name, "old_status": old[name], "new_status": new[name]}
                for name in old
            ]
        return {
            "id": public_id("update", f"{owner}/{update.key or at}"),
            "status": update.status,
            "body": update.body,
            "incident_id": owner,
            "created_at": at,
            "updated_at": at,
            "display_at": at,
            "affected_components": affected,
            "deliver_notifications": True,
            "custom_tweet": None,
            "tweet_id": None,
        }

    def _maintenance(self, window: PublicMaintenance) -> Document:
        updates = []
        for update in window.updates:
            during = update.status == "in_progress"
            statuses = {name: "under_maintenance" if during else OPERATIONAL for name in window.components}
            before = {name: OPERATIONAL if during else "under_maintenance" for name in window.components}
            moved = update.status in ("in_progress", "completed") and not window.cancelled
            updates.append(self._update(window.id, update, before if moved else statuses, statuses))
        return {
            "id": window.id,
            "name": window.name,
            "status": window.status,
            "created_at": iso(window.created_at),
            "updated_at": iso(window.updated_at),
            "monitoring_at": None,
            "resolved_at": _optional(window.ended_at),
            "impact": "maintenance",
            "shortlink": page_url(self.page, f"index.html#{window.id}"),
            "started_at": iso(window.created_at),
            "page_id": self.page_id,
            "incident_updates": updates,
            "components": [self._embedded(name) for name in window.components],
            "scheduled_for": iso(window.scheduled_for),
            "scheduled_until": iso(window.scheduled_until),
        }


def _optional(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None
