"""The follow-up index (Azure Tables, `followups`): what the Boards service hook and the reminders timer look up,
so neither reads incidents or timelines to find a follow-up.

Two rows per follow-up that has a Boards task, written by the `workitems` consumer once the task exists:
- `PartitionKey = "workitem-<id>"`, `RowKey = "followup"`: the task's work item id → its incident and follow-up (one
  point read per service hook event); `done_at` once Boards said it is done.
- `PartitionKey = "due-<YYYY-MM-DD>"`, `RowKey = "<incident>-<action key>"`, for follow-ups with a due date: keyed by
  the UTC day on which its owner is first reminded (`remind_from`: 09:00 in the owner's zone the day after the due
  date). The reminders timer reads one key range, `due-` up to today, which holds only open overdue follow-ups:
  the row is deleted when the follow-up is done.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.core.entity_bounds import bounded_entity
from shared.core.storage import StorageAccount

FOLLOWUPS_TABLE = "followups"
WORK_ITEM_ROW = "followup"
DUE_PREFIX = "due-"
REMIND_AT = time(9, 0)  # an overdue follow-up is brought up in its owner's morning, not at midnight


@dataclass(frozen=True)
class TrackedFollowUp:
    incident_id: str
    key: str  # plan.follow_up_key of its `action.added` event: `action-<digest>`
    added_event: str  # the `action.added` event id
    text: str
    owner: str
    owner_zone: str  # IANA zone from people.toml ("UTC" when unknown): when its day starts and ends
    work_item_id: int
    url: str
    due: date | None = None
    done_at: datetime | None = None

    @property
    def remind_from(self) -> datetime | None:
        """When the owner is first reminded: REMIND_AT on the day after the due date, in the owner's zone."""
        if self.due is None:
            return None
        zone = ZoneInfo(self.owner_zone)
        return datetime.combine(self.due + timedelta(days=1), REMIND_AT, zone).astimezone(UTC)


class FollowUpIndex:
    def __init__(self, account: StorageAccount) -> None:
        self._account = account

    @property
    def table(self) -> TableClient:
        return self._account.table(FOLLOWUPS_TABLE)

    def track(self, follow_up: TrackedFollowUp) -> bool:
        """Index a follow-up whose task exists (idempotent); False when it is done already — a redelivered
        `workitems` message must not bring back the reminders of a finished follow-up."""
        known = self.by_work_item(follow_up.work_item_id)
        if known is not None and known.done_at is not None:
            return False
        row = _row(follow_up)
        self.table.upsert_entity(
            bounded_entity({"PartitionKey": _work_item_key(follow_up.work_item_id), "RowKey": WORK_ITEM_ROW, **row}),
            mode=UpdateMode.MERGE,
        )
        if follow_up.remind_from is not None:
            due_row = {"PartitionKey": _due_partition(follow_up), "RowKey": _due_row_key(follow_up), **row}
            self.table.upsert_entity(bounded_entity(due_row), mode=UpdateMode.REPLACE)
        return True

    def by_work_item(self, work_item_id: int) -> TrackedFollowUp | None:
        try:
            entity = self.table.get_entity(_work_item_key(work_item_id), WORK_ITEM_ROW)
        except ResourceNotFoundError:
            return None
        return _follow_up(entity)

    def overdue(self, now: datetime) -> list[TrackedFollowUp]:
        """Open follow-ups whose owner is to be reminded by `now`: one key range of the due partitions."""
        query = "PartitionKey ge @lo and PartitionKey le @hi"
        parameters = {"lo": DUE_PREFIX, "hi": f"{DUE_PREFIX}{now.astimezone(UTC).date().isoformat()}"}
        found = [_follow_up(entity) for entity in self.table.query_entities(query, parameters=parameters)]
        return [f for f in found if f.remind_from is not None and f.remind_from <= now]

    def done(self, follow_up: TrackedFollowUp, at: datetime) -> None:
        """Reminders stop (its due row goes) and the work item row remembers when it was done."""
        if follow_up.remind_from is not None:
            with contextlib.suppress(ResourceNotFoundError):
                self.table.delete_entity(_due_partition(follow_up), _due_row_key(follow_up))
        row = {"PartitionKey": _work_item_key(follow_up.work_item_id), "RowKey": WORK_ITEM_ROW, "done_at": at}
        self.table.upsert_entity(row, mode=UpdateMode.MERGE)


def _work_item_key(work_item_id: int) -> str:
    return f"workitem-{work_item_id}"


def _due_partition(follow_up: TrackedFollowUp) -> str:
    assert follow_up.remind_from is not None
    return f"{DUE_PREFIX}{follow_up.remind_from.date().isoformat()}"


def _due_row_key(follow_up: TrackedFollowUp) -> str:
    return f"{follow_up.incident_id}-{follow_up.key}"


def _row(follow_up: TrackedFollowUp) -> dict[str, Any]:
    return {
        "incident": follow_up.incident_id,
        "key": follow_up.key,
        "added_event": follow_up.added_event,
        "text": follow_up.text,
        "owner": follow_up.owner,
        "owner_zone": follow_up.owner_zone,
        "work_item_id": follow_up.work_item_id,
        "url": follow_up.url,
        "due": follow_up.due.isoformat() if follow_up.due else "",
    }


def _follow_up(entity: dict[str, Any]) -> TrackedFollowUp:
    due = entity.get("due") or ""
    return TrackedFollowUp(
        incident_id=entity["incident"],
        key=entity["key"],
        added_event=entity["added_event"],
        text=entity.get("text", ""),
        owner=entity.get("owner", ""),
        owner_zone=entity.get("owner_zone") or "UTC",
        work_item_id=int(entity["work_item_id"]),
        url=entity.get("url", ""),
        due=date.fromisoformat(due) if due else None,
        done_at=entity.get("done_at"),
    )
