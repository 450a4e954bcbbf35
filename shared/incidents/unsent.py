"""A change whose announcement could not be queued: recorded beside the incident, sent again by the sweeper.

An HTTP function announces a change after saving it (functions.http_edge.announce) and answers success even when the
queue put fails, for no caller's retry would announce it again. The change's message is then written as a row of
the incidents partition instead, and the sweeper's next tick (shared.notifications.sweep) sends it to the queue it
was meant for and deletes the row: the status page, Boards and the channel hear of the change within seconds of
storage recovering, not at the next hourly refresh or tracked change. It may be sent more than once (the row
is deleted after the send, and a put that timed out may have been queued after all): every consumer of a change
message is idempotent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class UnsentChange:
    incident_id: str
    queue: str  # where the announcement was going
    message: str  # the change message, as it would have been sent
    written_at: datetime

    @property
    def key(self) -> str:
        """One row per message: the same change failing twice is recorded once."""
        return f"{self.incident_id}-{hashlib.sha256(f'{self.queue} {self.message}'.encode()).hexdigest()[:16]}"
