"""People's notification rules set through the API, on Azure Tables: the `notifyrules` table, one row per person
(PartitionKey "person", RowKey a hash of the lower-cased name: names may hold characters a key may not).

A row holds the rules as the `notify` JSON table and when they were set. Its ETag is the override's version: a PUT or
DELETE naming one (If-Match) changes the row only while it is still that version, else PreconditionFailed (412) and
nothing changes; without one, the last write wins. It is read back through the same validator
as people.toml, against the person's phone and Entra object id there today: a row that no longer fits (the phone was
removed from the file since) is ignored, logged, and the file's rules apply — a page never fails on it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.core.errors import ConfigurationError, PreconditionFailed
from shared.core.storage import StorageAccount
from shared.core.telemetry import log_event
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
            updated_at = row["updated_at"].astimezone(UTC)
        except (ConfigurationError, ValueError, KeyError, TypeError, AttributeError) as problem:
            log_event(
                log,
                "notify rules set through the API no longer apply",
                function="notify_override_store",
                outcome="ignored",
                level=logging.ERROR,
                person=person.name,
                problem=str(getattr(problem, "detail", problem)),
            )
            return None
        return NotifyOverride(person.name, rules, updated_at, row.metadata.get("etag") or "")

    def put(self, person: Person, rules: ContactRules, now: datetime, if_match: str | None = None) -> NotifyOverride:
        """Replace the person's override: unconditionally (the last write wins), or with `if_match` only while the
        stored override is that version ("*": any existing one); PreconditionFailed otherwise, nothing written."""
        entity = {
            "PartitionKey": PARTITION,
            "RowKey": _row_key(person.name),
            "person": person.name,
            "rules": json.dumps(rules_document(rules)),
            "updated_at": now,
        }
        if if_match is None:
            written = self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        else:
            etag = self._version(entity["RowKey"], if_match)
            try:  # the condition again in the write itself: a change between the read and here loses too
                written = self.table.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                raise PreconditionFailed(STALE) from None
        return NotifyOverride(person.name, rules, now, written.get("etag") or "")

    def delete(self, person: Person, if_match: str | None = None) -> bool:
        """Remove the person's override; whether there was one. With `if_match`, only while it is that version."""
        key = _row_key(person.name)
        if if_match is not None:
            etag = self._version(key, if_match)
            try:
                self.table.delete_entity(PARTITION, key, etag=etag, match_condition=MatchConditions.IfNotModified)
            except ResourceModifiedError:
                raise PreconditionFailed(STALE) from None
            return True
        try:
            self.table.get_entity(PARTITION, key, select=["PartitionKey"])
        except ResourceNotFoundError:
            return False
        self.table.delete_entity(PARTITION, key)  # a row deleted meanwhile is no error for the SDK
        return True

    def _version(self, key: str, if_match: str) -> str:
        """The stored row's ETag when `if_match` names it ("*": any stored version); PreconditionFailed otherwise.
        Compared here, so a malformed If-Match is a plain mismatch and never reaches the service."""
        try:
            current = self.table.get_entity(PARTITION, key, select=["PartitionKey"]).metadata.get("etag") or ""
        except ResourceNotFoundError:
            raise PreconditionFailed(STALE) from None
        if if_match.strip() not in ("*", current):
            raise PreconditionFailed(STALE)
        return current


STALE = "If-Match names a version of these rules that is no longer stored; GET them again (nothing was changed)"


def _row_key(name: str) -> str:
    return hashlib.sha256(name.strip().casefold().encode()).hexdigest()[:32]
