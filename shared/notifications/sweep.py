"""The sweeper: no page is lost to a lost or late message.

Every tick (one instance at a time, under a lease in the escalation ledger) it reads the pages still due — a short
range of the incidents partition, since a page leaves it once its escalation has started — and starts the
escalation of each page recorded more than PAGE_BOUND ago whose first step nobody has settled or is working on,
saying so on the incident's timeline, and passes the incident's record on to the status page and Boards. The
notifications consumer normally starts a page within a second or two; the sweeper catches what a dropped queue
message, a failed announcement or a crashed consumer left behind. Under the same lease it sends the changes whose
announcement could not be queued (shared.incidents.unsent), so those reach their consumers within a tick too.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from shared.incidents.changes import change_message, forward
from shared.incidents.paging import PageDue
from shared.incidents.timeline import ESCALATION_SWEPT
from shared.notifications import escalate
from shared.notifications.ledger import CLAIMED
from shared.notifications.notifier import Notifier
from shared.notifications.policy import FIRST

log = logging.getLogger("firebell.sweeper")

PAGE_BOUND = timedelta(seconds=30)  # how late a page may be before the sweeper starts it
LEASE = timedelta(seconds=25)  # longer than a tick's work, shorter than two ticks (every 10 s)
LEASE_NAME = "sweeper"


def sweep(now: datetime, notifier: Notifier, instance: str) -> list[str]:
    """One tick; returns the keys of the pages this tick started (or carried on)."""
    if not notifier.ledger.take_lease(LEASE_NAME, instance, now, LEASE):
        return []
    started: list[str] = []
    for page in notifier.store.pages_due():
        if now - page.written_at < PAGE_BOUND:
            continue
        try:
            if _sweep(page, now, notifier):
                started.append(page.key)
        except Exception:
            # One page's trouble (Teams down, say) must not keep the others waiting; the next tick tries again.
            log.exception("sweeper: %s could not be started; the next tick tries again", page.key)
    # After the pages: an opening's change sent now would have its consumer claim the page's first step just as
    # this tick looked whether anyone had, and the timeline would say the sweeper started a page it did not.
    try:
        _send_unsent(notifier)
    except Exception:
        log.exception("sweeper: the unsent changes could not be read; the next tick tries again")
    return started


def _send_unsent(notifier: Notifier) -> None:
    """Each change whose announcement failed, oldest first, to the queue it was meant for; its row goes once it is
    sent. The first that fails to send ends the pass: the queue is likely still failing, and each try waits out the
    client's retries, which must not outlast the lease."""
    for change in sorted(notifier.store.unsent_changes(), key=lambda change: change.written_at):
        incident, queue = change.incident_id, change.queue
        try:
            notifier.account.queue(queue).send_message(change.message)
        except Exception:
            log.exception("sweeper: a change of %s could not be sent to %s; the next tick tries again", incident, queue)
            return
        log.warning("sweeper: a change of %s sent to %s (its announcement had failed)", incident, queue)
        try:
            notifier.store.change_sent(change)
        except Exception:  # sent again by the next tick: its consumers are idempotent
            log.exception("sweeper: a change of %s was sent to %s but is still recorded as unsent", incident, queue)


def _sweep(page: PageDue, now: datetime, notifier: Notifier) -> bool:
    incident = notifier.store.get_incident(page.incident_id)
    if incident is None:
        notifier.store.page_started(page)  # recorded with the incident, so impossible; never page a ghost
        return False
    holder = f"sweeper-{page.key}"
    record = notifier.ledger.step(incident.id, replace(FIRST, series=page.series))
    if record is not None and record.state != CLAIMED:
        notifier.store.page_started(page)  # started and settled, but the page was not let go (a crash)
        return False
    if record is not None and record.message_id != holder and now < record.held_until:
        return False  # a delivery is working on it, or its message was deferred through an outage
    late = int((now - page.written_at).total_seconds())
    text = f"paging started by the sweeper: nobody was being paged {late} s after the page was due"
    notifier.record(incident.id, ESCALATION_SWEPT, text, now, f"swept-{page.key}", {"series": page.series}, page.due)
    # The change that made the page due may never have been announced (its queue put failed, and the HTTP function
    # answered success because this page was due): the status page and Boards hear of the incident's record from
    # here. Both consumers are idempotent, so a change they did hear of costs them nothing more.
    timeline = notifier.store.timeline(incident.id)
    forward(change_message(incident.id, [e.event_id for e in timeline], [e.kind for e in timeline]), notifier.account)
    log.warning("sweeper: %s was not under way after %d s; starting it", page.key, late)
    escalate.start(page, incident, holder, 1, now, notifier)
    return True
