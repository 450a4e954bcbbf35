"""Scheduled maintenance: a window, announced in public words, during which components are under maintenance.

Pure. Declared through `POST /api/maintenances` or the Teams `maintenance` command; shown on the status page and
in the Statuspage-compatible `scheduled-maintenances*.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Statuspage's scheduled-maintenance statuses that Firebell derives from the clock.
SCHEDULED, IN_PROGRESS, COMPLETED = "scheduled", "in_progress", "completed"


@dataclass(frozen=True)
class Maintenance:
    id: str  # "MNT-3"
    name: str  # public words, e.g. "Database upgrade"
    components: tuple[str, ...]  # public component names (from the service catalog)
    scheduled_for: datetime
    scheduled_until: datetime
    created_at: datetime
    updated_at: datetime
    description: str = ""  # public words shown with the maintenance
    cancelled_at: datetime | None = None
    version: int = 1

    def status(self, now: datetime) -> str:
        """Where the window stands at `now`; a cancelled window is over from the moment it was cancelled."""
        end = min(self.scheduled_until, self.cancelled_at) if self.cancelled_at else self.scheduled_until
        if now >= end:
            return COMPLETED
        return IN_PROGRESS if now >= self.scheduled_for else SCHEDULED
