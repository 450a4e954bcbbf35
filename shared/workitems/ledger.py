"""The Boards ledger (Azure Tables, `workitems`): one row per effect in Boards, claimed before the effect is made and
marked done with the work item it made, so a redelivered message never makes a second one.

PartitionKey = incident id, RowKey = effect ("incident", "action-…", "comment-…"). A claim is a lease: a delivery
that died without releasing it frees it when the lease runs out. A claim also names the queue message that made it:
the host delivers a message again only once its earlier delivery has ended, so a claim of the same message is one a
failed delivery could not release (storage failed with it) or this very insert, whose answer was lost and retried —
never a live competitor — and is taken over at once instead of waiting out its lease.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.core.entity_bounds import bounded_entity
from shared.core.errors import DependencyUnavailable
from shared.workitems.boards import WorkItemRef
from shared.workitems.config import HttpPolicy

LEDGER_TABLE = "workitems"


class EffectInProgress(DependencyUnavailable):
    """Another delivery holds this effect's claim right now; this one comes back later."""

    code = "boards_effect_in_progress"


@dataclass(frozen=True)
class Entry:
    key: str
    etag: str = ""
    work_item_id: int | None = None
    url: str | None = None
    recorded_at: datetime | None = None  # when the effect was marked done: names its timeline event
    claimed_until: datetime | None = None  # an unfinished claim's lease, as read by `entry`

    @property
    def done(self) -> bool:
        return self.work_item_id is not None

    def claimed(self, now: datetime) -> bool:
        """A delivery is making this effect right now (its claim's lease has not run out)."""
        return not self.done and self.claimed_until is not None and self.claimed_until > now


def lease_for(policy: HttpPolicy) -> timedelta:
    """Longer than one delivery can spend on an effect, so a live claim is never taken over; a hard-killed
    delivery's claim frees itself after this."""
    return timedelta(seconds=policy.attempts * (policy.timeout_seconds + policy.max_backoff_seconds) + 60)


class Ledger:
    """The `workitems` table: PartitionKey = incident id, RowKey = effect ("incident", "action-…", "comment-…")."""

    def __init__(self, table: TableClient, lease: timedelta) -> None:
        self.table = table
        self.lease = lease

    def entry(self, incident_id: str, key: str) -> Entry | None:
        try:
            row = self.table.get_entity(incident_id, key)
        except ResourceNotFoundError:
            return None
        values = (row.get("work_item_id"), row.get("url"), row.get("recorded_at"), row.get("claimed_until"))
        return Entry(key, row.metadata["etag"], *values)

    def claim(self, incident_id: str, key: str, now: datetime, claimant: str = "") -> Entry:
        """The done entry, or a claim now held by this delivery of message `claimant`; EffectInProgress while another
        message's delivery holds it."""
        claim = {"PartitionKey": incident_id, "RowKey": key, "claimed_until": now + self.lease, "claimant": claimant}
        for _ in range(3):
            try:
                return Entry(key, self.table.create_entity(claim)["etag"])
            except ResourceExistsError:
                pass
            try:
                row = self.table.get_entity(incident_id, key)
            except ResourceNotFoundError:
                continue  # released between our insert and this read: try to claim it again
            found = Entry(key, row.metadata["etag"], row.get("work_item_id"), row.get("url"), row.get("recorded_at"))
            if found.done:
                return found
            ours = bool(claimant) and row.get("claimant") == claimant
            if row["claimed_until"] > now and not ours:
                raise EffectInProgress(f"another delivery is creating {incident_id}'s {key} work item")
            try:  # that delivery died or failed without releasing: take its claim over
                meta = self.table.update_entity(
                    claim, UpdateMode.REPLACE, etag=found.etag, match_condition=MatchConditions.IfNotModified
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
            return Entry(key, meta["etag"])
        raise EffectInProgress(f"{incident_id}'s {key} work item is contended")

    def complete(self, incident_id: str, claim: Entry, ref: WorkItemRef, now: datetime) -> Entry:
        row = {"PartitionKey": incident_id, "RowKey": claim.key, "work_item_id": ref.id, "url": ref.url}
        row["recorded_at"] = now
        meta = self.table.upsert_entity(bounded_entity(row), UpdateMode.REPLACE)  # the claim is ours
        return Entry(claim.key, meta["etag"], ref.id, ref.url, now)

    def release(self, incident_id: str, claim: Entry) -> None:
        with suppress(Exception):  # best effort: an unreleased claim expires
            self.table.delete_entity(
                incident_id, claim.key, etag=claim.etag, match_condition=MatchConditions.IfNotModified
            )
