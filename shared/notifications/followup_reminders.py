"""Overdue follow-ups remind their owner: one card a day (the owner's day, from 09:00 in their zone) per follow-up
whose due date has passed and whose Boards task is not done, until the service hook says it is.

The follow-up index finds them (one key range of the `followups` table: shared.workitems.followup_index); no
incident is read to find them, only the incident of a card about to go out (its card names the incident). The card
ledger (`escalations`, key `followup-<action key>-<owner's date>`) makes each day's card go once across ticks and
instances; the timeline records each reminder.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shared.incidents.timeline import REMINDER_SENT
from shared.notifications import cards
from shared.notifications.notifier import SENT, Notifier
from shared.workitems.followup_index import REMIND_AT, FollowUpIndex, TrackedFollowUp

log = logging.getLogger("firebell.escalations")

LEASE_NAME = "followup-reminders"
LEASE = timedelta(minutes=5)  # shorter than the timer's 10 minutes: the next tick may run anywhere


def remind_follow_ups(now: datetime, notifier: Notifier, index: FollowUpIndex, instance: str) -> list[str]:
    """One pass of the follow-up reminders timer; returns what it sent, e.g. ["INC-7 action-1a2b3c"]. One instance
    at a time (a storage lease, as the sweeper's): two ticks at once could both find today's card unsent."""
    if not notifier.ledger.take_lease(LEASE_NAME, instance, now, LEASE):
        return []
    sent: list[str] = []
    for follow_up in index.overdue(now):
        try:
            sent += _remind(notifier, follow_up, now)
        except Exception:
            # One follow-up's trouble must not keep the others from their reminders; the next tick tries again.
            log.exception("followups: %s %s not reminded; next tick tries again", follow_up.incident_id, follow_up.key)
    return sent


def reminder_key(follow_up: TrackedFollowUp, now: datetime) -> str | None:
    """The card ledger's key of today's reminder in the owner's zone; None before REMIND_AT there."""
    local = now.astimezone(ZoneInfo(follow_up.owner_zone))
    if local.time() < REMIND_AT:
        return None
    return f"followup-{follow_up.key}-{local.date().isoformat()}"


def _remind(notifier: Notifier, follow_up: TrackedFollowUp, now: datetime) -> list[str]:
    assert follow_up.due is not None
    key = reminder_key(follow_up, now)
    if key is None or notifier.ledger.sent(follow_up.incident_id, key):
        return []
    incident = notifier.store.get_incident(follow_up.incident_id)
    if incident is None:
        log.warning("followups: %s does not exist; %s not reminded", follow_up.incident_id, follow_up.key)
        return []
    url = notifier.channel(incident)
    if url is None:
        notifier.not_configured(incident, now)
        return []
    owner = notifier.person_named(follow_up.owner)
    card = cards.follow_up_card(
        incident, cards.Recipient.of(owner), follow_up.text, follow_up.due, now, follow_up.url, notifier.links(incident)
    )
    # A failure raises (the next tick retries); a refusal is on the timeline and in the ledger (send_once).
    if notifier.send_once(incident, key, url, card, now, dequeue_count=1) != SENT:
        return []
    notifier.record(
        incident.id,
        REMINDER_SENT,
        f"reminded {owner.name}: the follow-up “{follow_up.text}” was due {follow_up.due.isoformat()}",
        now,
        key,
        {"follow_up": follow_up.added_event, "owner": owner.name, "due": follow_up.due.isoformat()},
        named_at=follow_up.remind_from,
    )
    return [f"{incident.id} {follow_up.key}"]
