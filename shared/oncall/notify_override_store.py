"""People's notification rules set through the API, on Azure Tables: the `notifyrules` table, one row per person
(PartitionKey "person", RowKey a hash of the lower-cased name: names may hold characters a key may not).

A row holds the rules as the `notify` JSON table and when they were set. It is read back through the same validator
as people.toml, against the person's phone and Entra object id there today: a row that no longer fits (the phone was
removed from the file since) is ignored, logged, and the file's rules apply — a page never fails on it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.core.errors import ConfigurationError
from shared.core.storage import StorageAccount
from shared.oncall.contact_rules import ContactRules, parse_rules, rules_document
from shared.oncall.notify_override import WHERE, NotifyOverride
from shared.oncall.people import Person

log = logging.getLogger("firebell.oncall")

NOTIFY_RULES = "notifyrules"
PARTITION = "person"


class NotifyOverrideStore:
    def __init__(self, account: StorageAccount) -> None:
        self._account = account

    @property
    def table(self) -> TableClient:
        return self._account.table(NOTIFY_RULES)

    def get(self, person: Person) -> NotifyOverride | None:
        """The person's override, None without one (or with one that no longer fits people.toml)."""
        try:
            row = self.table.get_entity(PARTITION, _row_key(person.name))
        except ResourceNotFoundError:
            return None
        try:
            rules = parse_rules(json.loads(row["rules"]), WHERE, person.phone, person.aad_object_id)
        except (ConfigurationError, ValueError, KeyError) as problem:
            log.error("notify rules of %s set through the API no longer apply: %s", person.name, problem)
            return None
        return NotifyOverride(person.name, rules, row["updated_at"].astimezone(UTC))

    def put(self, person: Person, rules: ContactRules, now: datetime) -> NotifyOverride:
        """Replace the person's override (a PUT: the last one written wins)."""
        entity = {
            "PartitionKey": PARTITION,
            "RowKey": _row_key(person.name),
            "person": person.name,
            "rules": json.dumps(rules_document(rules)),
            "updated_at": now,
        }
        self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        return NotifyOverride(person.name, rules, now)

    def delete(self, person: Person) -> bool:
        """Remove the person's override; whether there was one."""
        key = _row_key(person.name)
        try:
            self.table.get_entity(PARTITION, key, select=["PartitionKey"])
        except ResourceNotFoundError:
            return False
        self.table.delete_entity(PARTITION, key)  # a row deleted meanwhile is no error for the SDK
        return True


def _row_key(name: str) -> str:
    return hashlib.sha256(name.strip().casefold().encode()).hexdigest()[:32]
