"""The contacts ledger (Azure Tables, the `escalations` table beside the escalation ledger): each SMS or call of a
person's page sent once, and each acknowledgement link used once.

Partition per incident:
- `contact-<page>-<person>-<step>-<channel>`: claimed (insert-if-absent) by the message that sends it, then settled
  (sent with the service's message id, failed, stopped). A redelivery of the claiming message (same holder) carries
  on; another copy finds the claim and does nothing while it is held (CONTACT_HOLD), and takes over a claim whose
  holder vanished. A crash between the send and the settle sends again on redelivery: the SMS carries the same
  repeatability id, so Communication Services recognises it.
Partition `sms`: `msg-<message id>` → incident, person, contact key (what a delivery report names).
Partition `ack-links`: `<nonce>` → the link was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.core.entity_bounds import bounded_entity
from shared.core.storage import StorageAccount
from shared.notifications.ledger import ESCALATIONS

CLAIMED, SENT, FAILED, STOPPED = "claimed", "sent", "failed", "stopped"
# Longer than one send (one request: at most a 3 s connect and 10 s read timeout).
CONTACT_HOLD = timedelta(seconds=30)


class Claim(Enum):
    NEW = "new"
    OURS = "ours"
    DONE = "done"
    HELD = "held"


@dataclass(frozen=True)
class ContactRecord:
    state: str
    holder: str
    first_attempt: datetime  # names the SMS's repeatability: every retry of the step is the same request
    message_id: str = ""


class ContactLedger:
    def __init__(self, account: StorageAccount) -> None:
        self._account = account

    @property
    def table(self) -> TableClient:
        return self._account.table(ESCALATIONS)

    def claim(self, incident: str, key: str, holder: str, now: datetime, hold: timedelta = CONTACT_HOLD) -> Claim:
        row = {
            "PartitionKey": incident,
            "RowKey": f"contact-{key}",
            "state": CLAIMED,
            "holder": holder,
            "first_attempt": now,
            "until": now + hold,
        }
        try:
            self.table.create_entity(row)
            return Claim.NEW
        except ResourceExistsError:
            pass
        try:
            entity = self.table.get_entity(incident, f"contact-{key}")
        except ResourceNotFoundError:
            return Claim.HELD
        if entity["state"] != CLAIMED:
            return Claim.DONE
        if entity["holder"] != holder and now < entity["until"]:
            return Claim.HELD
        renewed = {"PartitionKey": incident, "RowKey": f"contact-{key}", "holder": holder, "until": now + hold}
        try:
            self.table.update_entity(
                renewed, UpdateMode.MERGE, etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return Claim.HELD  # another copy got there first: it carries on
        return Claim.OURS

    def record(self, incident: str, key: str) -> ContactRecord | None:
        try:
            entity = self.table.get_entity(incident, f"contact-{key}")
        except ResourceNotFoundError:
            return None
        return ContactRecord(entity["state"], entity["holder"], entity["first_attempt"], entity.get("message_id", ""))

    def settle(
        self, incident: str, key: str, state: str, now: datetime, message_id: str = "", detail: str = ""
    ) -> None:
        row = {
            "PartitionKey": incident,
            "RowKey": f"contact-{key}",
            "state": state,
            "settled_at": now,
            "message_id": message_id,
            "detail": detail[:1000],
        }
        self.table.update_entity(bounded_entity(row), mode=UpdateMode.MERGE)

    def hold(self, incident: str, key: str, holder: str, until: datetime) -> None:
        """Keep the claim through a deferral's pause, so no copy takes it over while its message waits."""
        row = {"PartitionKey": incident, "RowKey": f"contact-{key}", "holder": holder, "until": until}
        self.table.update_entity(row, mode=UpdateMode.MERGE)

    # --- delivery reports ---------------------------------------------------------------------------------------
    def remember_sms(self, message_id: str, incident: str, person: str, key: str, now: datetime) -> None:
        row = {
            "PartitionKey": "sms",
            "RowKey": f"msg-{message_id}",
            "incident": incident,
            "person": person,
            "contact": key,
            "sent_at": now,
        }
        self.table.upsert_entity(bounded_entity(row))

    def sms(self, message_id: str) -> dict[str, Any] | None:
        if not message_id or any(ch in message_id for ch in "/\\#?") or len(message_id) > 200:
            return None
        try:
            return dict(self.table.get_entity("sms", f"msg-{message_id}"))
        except ResourceNotFoundError:
            return None

    # --- calls -------------------------------------------------------------------------------------------------------
    def remember_call(self, call_id: str, incident: str, person: str, key: str, page: str, now: datetime) -> None:
        row = {
            "PartitionKey": "calls",
            "RowKey": f"call-{call_id}",
            "incident": incident,
            "person": person,
            "contact": key,
            "page": page,
            "placed_at": now,
        }
        self.table.upsert_entity(bounded_entity(row))

    def call(self, call_id: str) -> dict[str, Any] | None:
        if not call_id or any(ch in call_id for ch in "/\\#?") or len(call_id) > 200:
            return None
        try:
            return dict(self.table.get_entity("calls", f"call-{call_id}"))
        except ResourceNotFoundError:
            return None

    # --- acknowledgement links ----------------------------------------------------------------------------------
    def link_used(self, nonce: str) -> bool:
        try:
            self.table.get_entity("ack-links", _nonce_key(nonce), select=["RowKey"])
        except ResourceNotFoundError:
            return False
        return True

    def use_link(self, nonce: str, incident: str, person: str, now: datetime) -> bool:
        """False when it was used already."""
        row = {
            "PartitionKey": "ack-links",
            "RowKey": _nonce_key(nonce),
            "incident": incident,
            "person": person,
            "used_at": now,
        }
        try:
            self.table.create_entity(bounded_entity(row))
        except ResourceExistsError:
            return False
        return True


def _nonce_key(nonce: str) -> str:
    import hashlib

    return hashlib.sha256(nonce.encode()).hexdigest()[:40]
