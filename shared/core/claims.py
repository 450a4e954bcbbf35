"""Claims on ledger rows (Azure Tables): one holder at a time works on what a row stands for — an escalation step, a
person's SMS or call — until it settles the row.

The claim is the row itself: inserted if absent in state CLAIMED, naming its holder (a queue message's id) and the
time it is held `until`. A copy of another holder finds it and leaves it alone until then; the same holder (a
redelivery of its message, or a copy deferred under its id) carries on at once and holds it again; a claim whose
holder vanished is taken over once `until` has passed. Both writes go under the row's ETag, so of two copies only
one wins. A row in any other state was settled by its holder: the work is done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the SDK loads on first use, as shared.core.storage's does
    from azure.data.tables import TableClient

CLAIMED = "claimed"


class Claim(Enum):
    NEW = "new"  # go ahead: nobody claimed it before, so nothing of its work was done yet
    OURS = "ours"  # go ahead: an earlier holder (this one's own earlier delivery, or one that vanished) may have begun
    DONE = "done"  # it was settled already (a duplicate): nothing to do
    HELD = "held"  # another holder is working on it right now: leave it


def claim_row(
    table: TableClient,
    partition: str,
    row_key: str,
    holder: str,
    now: datetime,
    hold: timedelta,
    *,
    holder_field: str = "holder",
    first: Mapping[str, Any] | None = None,
    renewed: Mapping[str, Any] | None = None,
    held_until: Callable[[Mapping[str, Any]], datetime] = lambda row: row["until"],
) -> Claim:
    """Claim the row (partition, row_key) for `holder` until now + hold. The row names its holder in `holder_field`;
    `first` are fields a new claim writes and every later claim keeps, `renewed` fields every claim writes again;
    `held_until` reads until when a found claim is held."""
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
    from azure.data.tables import UpdateMode

    claim = {holder_field: holder, **(renewed or {}), "until": now + hold}
    keys = {"PartitionKey": partition, "RowKey": row_key}
    try:
        table.create_entity({**keys, "state": CLAIMED, **(first or {}), **claim})
        return Claim.NEW
    except ResourceExistsError:
        pass
    try:
        row = table.get_entity(partition, row_key)
    except ResourceNotFoundError:
        return Claim.HELD  # ledger rows are never deleted: treat the impossible as "someone else has it"
    if row["state"] != CLAIMED:
        return Claim.DONE
    if row[holder_field] != holder and now < held_until(row):
        return Claim.HELD
    try:  # our own claim again, or a vanished holder's: unless another copy just got there first
        table.update_entity(
            {**keys, **claim},
            UpdateMode.MERGE,
            etag=row.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    except (ResourceModifiedError, ResourceNotFoundError):
        return Claim.HELD  # that copy carries on
    return Claim.OURS
