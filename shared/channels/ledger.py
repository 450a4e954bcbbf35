"""The channels ledger (Azure Tables, `channels`): the incident's channel, claimed before it is made and marked done
with what Graph made, so a redelivered or racing message never makes a second one; and the way back from a channel
to its incident (a Teams command in the channel, a change notification).

Rows: (incident id, "channel") — a claim lease, then channel_id/url/name/recorded_at; (incident id, "archived");
("subscriptions", incident id) — the live Graph subscription of its channel's messages (id, expiry), one partition so
the renewal timer reads only live subscriptions; ("channel", <channel id>) — incident.
A claim names the queue message that made it, as the Boards ledger's do (shared.workitems.ledger): a redelivery of
the same message takes its own claim over at once; another message's live claim defers the delivery.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.core.errors import DependencyUnavailable

CHANNELS_TABLE = "channels"
CHANNEL, ARCHIVED, SUBSCRIPTIONS, BY_CHANNEL = "channel", "archived", "subscriptions", "channel"
LEASE = timedelta(minutes=3)  # longer than one delivery's Graph calls with their retries


class ChannelInProgress(DependencyUnavailable):
    """Another delivery is making this incident's channel right now; this one comes back later."""

    code = "channel_in_progress"


@dataclass(frozen=True)
class ChannelEntry:
    etag: str = ""
    channel_id: str | None = None
    url: str | None = None
    name: str | None = None
    recorded_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.channel_id is not None


class ChannelLedger:
    def __init__(self, table: TableClient, lease: timedelta = LEASE) -> None:
        self.table = table
        self.lease = lease

    def entry(self, incident_id: str) -> ChannelEntry | None:
        try:
            row = self.table.get_entity(incident_id, CHANNEL)
        except ResourceNotFoundError:
            return None
        return _entry(row)

    def claim(self, incident_id: str, now: datetime, claimant: str) -> ChannelEntry:
        """The done entry, or a claim held by this delivery; ChannelInProgress while another message holds it."""
        claim = {
            "PartitionKey": incident_id,
            "RowKey": CHANNEL,
            "claimed_until": now + self.lease,
            "claimant": claimant,
        }
        for _ in range(3):
            try:
                return ChannelEntry(self.table.create_entity(claim)["etag"])
            except ResourceExistsError:
                pass
            try:
                row = self.table.get_entity(incident_id, CHANNEL)
            except ResourceNotFoundError:
                continue
            found = _entry(row)
            if found.done:
                return found
            if row["claimed_until"] > now and row.get("claimant") != claimant:
                raise ChannelInProgress(f"another delivery is creating {incident_id}'s channel")
            try:
                meta = self.table.update_entity(
                    claim, UpdateMode.REPLACE, etag=found.etag, match_condition=MatchConditions.IfNotModified
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
            return ChannelEntry(meta["etag"])
        raise ChannelInProgress(f"{incident_id}'s channel is contended")

    def complete(
        self, incident_id: str, claim: ChannelEntry, channel_id: str, url: str, name: str, now: datetime
    ) -> ChannelEntry:
        # The way back first: once the channel row says done, a command in the channel must find its incident.
        self.table.upsert_entity({"PartitionKey": BY_CHANNEL, "RowKey": _key(channel_id), "incident": incident_id})
        row = {"PartitionKey": incident_id, "RowKey": CHANNEL, "channel_id": channel_id, "url": url, "name": name}
        row["recorded_at"] = now
        try:  # only over our own claim: a racer that completed first named the channel and its time already
            meta = self.table.update_entity(
                row, UpdateMode.REPLACE, etag=claim.etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            found = self.entry(incident_id)
            if found is not None and found.done:
                return found
            raise ChannelInProgress(f"{incident_id}'s channel claim was taken over") from None
        return ChannelEntry(meta["etag"], channel_id, url, name, now)

    def release(self, incident_id: str, claim: ChannelEntry) -> None:
        with suppress(Exception):  # best effort: an unreleased claim expires with its lease
            self.table.delete_entity(
                incident_id, CHANNEL, etag=claim.etag, match_condition=MatchConditions.IfNotModified
            )

    def incident_of(self, channel_id: str) -> str | None:
        try:
            return str(self.table.get_entity(BY_CHANNEL, _key(channel_id))["incident"])
        except ResourceNotFoundError:
            return None

    def mark(self, incident_id: str, row_key: str, **values: object) -> bool:
        """Insert a marker row once (archived); False when it was there already."""
        try:
            self.table.create_entity({"PartitionKey": incident_id, "RowKey": row_key, **values})
        except ResourceExistsError:
            return False
        return True

    def unmark(self, incident_id: str, row_key: str) -> None:
        with suppress(ResourceNotFoundError):
            self.table.delete_entity(incident_id, row_key)

    def subscription(self, incident_id: str) -> tuple[str, datetime] | None:
        try:
            row = self.table.get_entity(SUBSCRIPTIONS, incident_id)
        except ResourceNotFoundError:
            return None
        return str(row["subscription_id"]), row["expires"]

    def subscriptions(self) -> list[tuple[str, str, datetime, str]]:
        """Every live subscription: (incident id, subscription id, expiry, channel id)."""
        rows = self.table.query_entities("PartitionKey eq @p", parameters={"p": SUBSCRIPTIONS})
        return [(r["RowKey"], str(r["subscription_id"]), r["expires"], str(r.get("channel_id", ""))) for r in rows]

    def keep_subscription(self, incident_id: str, subscription_id: str, expires: datetime, channel_id: str) -> None:
        row = {"PartitionKey": SUBSCRIPTIONS, "RowKey": incident_id, "subscription_id": subscription_id}
        self.table.upsert_entity({**row, "expires": expires, "channel_id": channel_id}, UpdateMode.REPLACE)

    def forget_subscription(self, incident_id: str) -> None:
        with suppress(ResourceNotFoundError):
            self.table.delete_entity(SUBSCRIPTIONS, incident_id)


def _entry(row: dict) -> ChannelEntry:
    values = (row.get("channel_id"), row.get("url"), row.get("name"), row.get("recorded_at"))
    return ChannelEntry(row.metadata["etag"], *values)


def _key(channel_id: str) -> str:
    # RowKeys may not hold / \ # ? or control characters; channel ids (19:…@thread.tacv2) hold none, but be sure.
    return "".join(c if c not in "/\\#?" and c >= " " else "_" for c in channel_id)
