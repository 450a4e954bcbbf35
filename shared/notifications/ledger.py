"""The escalation ledger (Azure Tables, `escalations`): what Firebell has paged and told about each incident, so a
queue message that arrives twice never pages twice.

One partition per incident:
- `step-rNN-sNN`: an escalation step. Claimed (shared.core.claims) by the queue message that runs it, then settled
  (paged, skipped, stopped, failed). A second message for the same step (or the sweeper) finds the claim and leaves
  it alone while it is held; a redelivery of the claiming message itself (same message id, or a copy deferred
  through an outage carrying it as `holder`) carries on where it failed, and holds the claim again. A claim is held
  for CLAIM_HOLD from each delivery that works on it, and through the pause of a deferred copy (`hold`): a claimant
  that died (its host killed mid-step) lets the step go within CLAIM_HOLD, not when its message comes back.
- `chain-end`: when the last step's wait runs out (the reminders timer alerts the escalation channel after it).
- `sent-<key>`: a card delivered (notification per event and kind, reminder per promised time, escalation
  exhausted), written after the post succeeded and checked before posting.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.core.claims import CLAIMED, Claim, claim_row
from shared.core.entity_bounds import bounded_entity
from shared.core.storage import StorageAccount
from shared.notifications.policy import Position

log = logging.getLogger("firebell.notifications")

ESCALATIONS = "escalations"
# How long one delivery holds a step it works on: longer than its own work on the step (one card post: at most
# shared.teams.workflow's 3 attempts, each timing out or waiting a Retry-After of at most 10 s, about 42 s). Its
# message would come back only when the queue's visibility lease runs out (10 minutes in Azure), so a claimant that
# died must not hold the page that long. A post kept waiting longer — by throttling (the webhook's shared budget),
# or behind a retrying send to its webhook (shared.teams.coalescing) — may see the step taken over: its card may
# then go twice.
CLAIM_HOLD = timedelta(seconds=45)
# How long a claim written without a hold (before holds existed) is held. Longer than
# shared.core.deferral.MAX_PAUSE_SECONDS: a message deferred through an outage renews it before it runs out.
CLAIM_LEASE = timedelta(minutes=10)
_SAFE_KEY = re.compile(r"^[A-Za-z0-9._:=-]{1,200}$")  # RowKeys refuse / \ # ? and control characters


@dataclass(frozen=True)
class StepRecord:
    position: Position
    state: str  # claimed | paged | skipped | stopped | failed
    message_id: str
    claimed_at: datetime
    held_until: datetime  # another message (or the sweeper) may take the step over after this, while it is claimed
    person: str = ""


class EscalationLedger:
    def __init__(self, account: StorageAccount) -> None:
        self._account = account

    @property
    def table(self) -> TableClient:
        return self._account.table(ESCALATIONS)

    # --- escalation steps ----------------------------------------------------------------------------------------
    def claim_step(
        self, incident_id: str, position: Position, message_id: str, now: datetime, hold: timedelta = CLAIM_HOLD
    ) -> Claim:
        """Claim.NEW: nobody claimed the step before, so no card of it was posted. Each claim (a redelivery of
        `message_id` carrying on, or a takeover) starts the hold again from `claimed_at`."""
        return claim_row(
            self.table,
            incident_id,
            _step_key(position),
            message_id,
            now,
            hold,
            holder_field="message",
            renewed={"claimed_at": now},
            held_until=_held_until,
        )

    def settle_step(
        self, incident_id: str, position: Position, state: str, now: datetime, person: str = "", detail: str = ""
    ) -> None:
        row = {
            "PartitionKey": incident_id,
            "RowKey": _step_key(position),
            "state": state,
            "settled_at": now,
            "person": person,
            "detail": detail[:2000],
        }
        self.table.update_entity(bounded_entity(row), mode=UpdateMode.MERGE)

    def step(self, incident_id: str, position: Position) -> StepRecord | None:
        try:
            entity = self.table.get_entity(incident_id, _step_key(position))
        except ResourceNotFoundError:
            return None
        return StepRecord(
            position=position,
            state=entity["state"],
            message_id=entity.get("message", ""),
            claimed_at=entity["claimed_at"],
            held_until=_held_until(entity),
            person=entity.get("person", ""),
        )

    def hold(self, incident_id: str, holder: str, until: datetime) -> int:
        """Hold the steps of the incident that `holder` has claimed and not settled until `until` (its message was
        deferred through an outage and comes back then); returns how many. A storage failure holds none: the claims
        then run out after CLAIM_HOLD, and at worst a card goes twice — never is the deferred message lost for it."""
        query = "PartitionKey eq @p and state eq @s and message eq @m"
        parameters = {"p": incident_id, "s": CLAIMED, "m": holder}
        held = 0
        try:
            claimed = list(self.table.query_entities(query, parameters=parameters))
        except AzureError as error:
            log.warning("escalation ledger: claims of %s not held (%s)", holder, type(error).__name__)
            return 0
        for entity in claimed:
            try:
                self.table.update_entity(
                    {"PartitionKey": incident_id, "RowKey": entity["RowKey"], "until": until},
                    mode=UpdateMode.MERGE,
                    etag=entity.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                held += 1
            except (ResourceModifiedError, ResourceNotFoundError):
                pass  # settled or taken over meanwhile: nothing to hold
            except AzureError as error:
                log.warning("escalation ledger: claims of %s not held (%s)", holder, type(error).__name__)
        return held

    # --- leases: one instance at a time ------------------------------------------------------------------------------
    def take_lease(self, name: str, holder: str, now: datetime, duration: timedelta) -> bool:
        """Hold `name` until now + duration unless another holder's lease is still running (ETag-guarded): the
        storage-backed equivalent of the Functions host's timer singleton, so a timer acts once across instances."""
        row = {"PartitionKey": "lease", "RowKey": name, "holder": holder, "until": now + duration}
        try:
            self.table.create_entity(row)
            return True
        except ResourceExistsError:
            pass
        try:
            entity = self.table.get_entity("lease", name)
        except ResourceNotFoundError:
            return False  # released between the two calls: the next tick takes it
        if entity["holder"] != holder and entity["until"] > now:
            return False
        try:
            self.table.update_entity(
                row, UpdateMode.REPLACE, etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    # --- the end of the chain ------------------------------------------------------------------------------------
    def mark_chain_end(self, incident_id: str, policy: str, due_at: datetime) -> None:
        """The last step ran; unacknowledged after `due_at`, the incident goes to the escalation channel."""
        row = {"PartitionKey": incident_id, "RowKey": "chain-end", "policy": policy, "due_at": due_at}
        with contextlib.suppress(ResourceExistsError):  # a redelivery of the last step: the first end stands
            self.table.create_entity(row)

    def chain_end(self, incident_id: str) -> tuple[str, datetime] | None:
        try:
            entity = self.table.get_entity(incident_id, "chain-end")
        except ResourceNotFoundError:
            return None
        return entity["policy"], entity["due_at"]

    # --- cards sent ------------------------------------------------------------------------------------------------
    def sent(self, incident_id: str, key: str) -> bool:
        try:
            self.table.get_entity(incident_id, _sent_key(key), select=["RowKey"])
        except ResourceNotFoundError:
            return False
        return True

    def record_sent(self, incident_id: str, key: str, now: datetime, detail: dict[str, Any] | None = None) -> bool:
        """After a successful post; False when another delivery had recorded it (it was sent twice)."""
        row = {"PartitionKey": incident_id, "RowKey": _sent_key(key), "key": key, "sent_at": now, **(detail or {})}
        try:
            self.table.create_entity(bounded_entity(row))
        except ResourceExistsError:
            return False
        return True


def _held_until(entity: dict[str, Any]) -> datetime:
    return entity.get("until") or entity["claimed_at"] + CLAIM_LEASE


def _step_key(position: Position) -> str:
    return f"step-{position.key()}"


def _sent_key(key: str) -> str:
    return f"sent-{key}" if _SAFE_KEY.match(key) else f"sent-h-{hashlib.sha256(key.encode()).hexdigest()[:40]}"
