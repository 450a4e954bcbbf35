"""The contacts ledger (Azure Tables, the `escalations` table beside the escalation ledger): each SMS or call of a
person's page sent once, and each acknowledgement link used once.

Partition per incident:
- `contact-<page>-<person>-<step>-<channel>`: claimed (shared.core.claims) by the message that sends it, then settled
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
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.core.claims import Claim, claim_row
from shared.core.entity_bounds import bounded_entity
from shared.core.storage import StorageAccount
from shared.notifications.ledger import ESCALATIONS

SENT, FAILED, STOPPED = "sent", "failed", "stopped"  # how a claim settles
# Longer than one send (one request: at most a 3 s connect and 10 s read timeout).
CONTACT_HOLD = timedelta(seconds=30)


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
        # A takeover keeps first_attempt: the SMS's repeatability stays that of the first attempt.
        return claim_row(self.table, incident, f"contact-{key}", holder, now, hold, first={"first_attempt": now})

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
