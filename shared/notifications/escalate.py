"""Escalation steps and reminders: who is paged next when nobody acknowledged, and who is reminded of what.

A step message (`shared.notifications.policy.StepMessage`) runs one step of an incident's escalation policy: unless
the incident was acknowledged (or closed) since, it pages whoever the step names, records it on the timeline and in
the incident's "who knows", and enqueues the next step to become visible after the step's wait. Nobody to page
(a gap) skips to the next step at once. The ledger's claim per (incident, round, step) makes a second message for
the same step a no-op.

The reminders pass (every minute) reminds the commander and communications coordinator when a promised public
update is overdue, and alerts the roster's escalation channel once when every step ran and nobody acknowledged.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from shared.core import deferral
from shared.core.errors import ConfigurationError, InvalidInput
from shared.core.queues import ESCALATIONS
from shared.core.timeutil import iso
from shared.incidents.incident import OPEN, Incident, status_filter
from shared.incidents.paging import PageDue
from shared.incidents.roles import COMMANDER, COMMS, holders
from shared.incidents.timeline import (
    ESCALATION_EXHAUSTED,
    ESCALATION_PAGED,
    ESCALATION_SKIPPED,
    ESCALATION_STOPPED,
    REMINDER_SENT,
)
from shared.notifications import cards
from shared.notifications import policy as policy_rules
from shared.notifications.ledger import CLAIMED, Claim
from shared.notifications.notifier import REFUSED, SENT, Notifier, holder_of
from shared.notifications.policy import (
    FIRST,
    PERSON,
    ROLE,
    ROSTER_LAYER,
    EscalationPolicy,
    EscalationStep,
    Position,
    StepMessage,
)
from shared.oncall.people import Person
from shared.teams.workflow import WorkflowError

log = logging.getLogger("firebell.escalations")

# Settled step states in the ledger.
PAGED, SKIPPED, STOPPED, FAILED = "paged", "skipped", "stopped", "failed"


def on_step(body: bytes, message_id: str, dequeue_count: int, now: datetime, notifier: Notifier) -> Any | None:
    """One `escalations` message; a Workflows outage (or a long Retry-After) defers it instead of burning its
    deliveries, and the deferred message is returned. As in shared.notifications.notify.on_change, the last
    delivery of a message that can no longer be deferred writes its failure on the timeline, whatever it is."""
    try:
        text = body.decode()
        document = json.loads(text)
        step = StepMessage.from_json(document)
    except (ValueError, UnicodeDecodeError, InvalidInput) as problem:
        log.error("escalations: message %s dropped: %s", message_id, getattr(problem, "detail", problem))
        return None
    holder = holder_of(text, message_id)

    def act(deferrable: bool) -> object:
        return run_step(step, holder, dequeue_count, now, notifier, deferrable=deferrable)

    return notifier.patiently(ESCALATIONS, text, step.incident, holder, dequeue_count, now, act)


@dataclass
class StepRun:
    """What one message did: each step it ran with its outcome, and the next step's queue message (whose
    `next_visible_on` shows the wait), if it scheduled one."""

    steps: list[tuple[Position, str]] = field(default_factory=list)
    scheduled: Any | None = None


def start(
    page: PageDue,
    incident: Incident,
    holder: str,
    dequeue_count: int,
    now: datetime,
    notifier: Notifier,
    *,
    deferrable: bool = False,
) -> bool:
    """Start the escalation a due page names: step 0 of round 1 of the incident's policy runs now, in this
    invocation, and schedules step 1 on the `escalations` queue with its delay. Inline rather than queued: a second
    queue hop would add a whole polling interval to the first page (measured: p95 4.1 s instead of under 2 s). The
    step's ledger claim, held by `holder`, makes a redelivery carry on and a duplicate do nothing. True when the
    first step is settled (the page leaves the outbox); False when it is still to be done (left for the sweeper)."""
    try:
        policy = notifier.config.escalations().policy_for(incident.service, incident.severity)
    except ConfigurationError as problem:
        # Logged at start-up too; the incident's own record says nobody was paged, and the page stays due: the
        # sweeper starts it once the configuration is fixed.
        text = f"escalation not started: {problem.detail}"
        discriminator = "escalation-not-started" + (f"-{page.series}" if page.series else "")
        notifier.record(incident.id, ESCALATION_SKIPPED, text, now, discriminator, named_at=page.due)
        return False
    first = replace(FIRST, series=page.series)
    step = StepMessage(incident.id, policy.id, first, page.due)
    run = run_step(step, holder, dequeue_count, now, notifier, deferrable=deferrable, incident=incident)
    log.info("escalations: %s escalation %s started: %s", incident.id, policy.id, run.steps)
    if run.steps:
        settled = True  # this message ran the first step to an outcome
    else:  # another message holds it or settled it: the ledger says which
        record = notifier.ledger.step(incident.id, first)
        settled = record is not None and record.state != CLAIMED
    if settled:
        notifier.store.page_started(page)
    return settled


def run_step(
    message: StepMessage,
    message_id: str,
    dequeue_count: int,
    now: datetime,
    notifier: Notifier,
    *,
    deferrable: bool = False,
    incident: Incident | None = None,
) -> StepRun:
    """Run the step (and, past gaps, the steps after it at once). `deferrable`: a Workflows outage will defer the
    message, so even its last delivery does not give the page up. `incident`: as this invocation has just read it
    (the first step then pages without reading it again)."""
    run = StepRun()
    if incident is None:
        stored = notifier.store.load_incident(message.incident)
        if stored is None:
            log.warning("escalations: %s does not exist; step dropped", message.incident)
            return run
        incident = stored.incident
    policy = _policy(notifier, message, incident)
    position: Position | None = message.position
    fresh: Incident | None = incident
    while position is not None:
        claim, target = _claimed_while_looking_up(notifier, policy, position, fresh, incident.id, message_id, now)
        if claim is None:
            break
        outcome, run.scheduled = _one_step(
            notifier, message, policy, position, fresh, incident, claim, dequeue_count, now, deferrable, target
        )
        run.steps.append((position, outcome))
        if outcome != SKIPPED:
            break
        # A gap: the next step at once, under the same message (its claim is ours too).
        position = policy_rules.next_position(policy, position)
        fresh = None  # read again before the next step: an ack may have come meanwhile
        if position is None:
            notifier.ledger.mark_chain_end(incident.id, policy.id, now)
    return run


SKIPPED_BEFORE = "skipped before"  # this message skipped the step before failing further on: carry on past it


Target = tuple[Person | None, str]  # whom a step pages, or None and why nobody


def _claimed_while_looking_up(
    notifier: Notifier,
    policy: EscalationPolicy,
    position: Position,
    fresh: Incident | None,
    incident_id: str,
    message_id: str,
    now: datetime,
) -> tuple[Any, Target | None]:
    """(the step's claim as _claimed gives it, whom the step pages). With the incident just read (`fresh`), who is
    on call is looked up while the claim's write is in flight: one storage round trip less before the first page,
    and a lookup wasted only when another message holds the step. Without it, the step reads the incident first."""
    step = policy_rules.step_at(policy, position)
    # Only a step about to page looks anyone up: not past the policy, once acknowledged or closed, or unpostable.
    if fresh is None or step is None or policy_rules.stop_reason(fresh) is not None or notifier.channel(fresh) is None:
        return _claimed(notifier, incident_id, position, message_id, now), None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="claim") as pool:
        claiming = pool.submit(_claimed, notifier, incident_id, position, message_id, now)
        try:
            target: Target | None = _target(notifier, step, fresh, _service_roster(notifier, fresh), now)
        except Exception:  # looked up again once the step is ours, where a failure counts (a duplicate ignores it)
            target = None
        return claiming.result(), target


def _claimed(notifier: Notifier, incident_id: str, position: Position, message_id: str, now: datetime) -> Any:
    """Claim.NEW or Claim.OURS when this message runs the step, SKIPPED_BEFORE, else None (a duplicate)."""
    claim = notifier.ledger.claim_step(incident_id, position, message_id, now)
    if claim in (Claim.NEW, Claim.OURS):
        return claim
    record = notifier.ledger.step(incident_id, position)
    if claim is Claim.DONE and record is not None and record.message_id == message_id and record.state == SKIPPED:
        return SKIPPED_BEFORE  # settled states stay
    log.info("escalations: %s %s is %s; this message does nothing", incident_id, position.key(), claim.value)
    return None


def _one_step(
    notifier: Notifier,
    message: StepMessage,
    policy: EscalationPolicy,
    position: Position,
    fresh: Incident | None,
    incident: Incident,
    claim: Any,
    dequeue_count: int,
    now: datetime,
    deferrable: bool = False,
    target: Target | None = None,
) -> tuple[str, Any | None]:
    """(outcome, the next step's queue message if one was scheduled). `fresh`: the incident as just read, else it
    is read now (an ack may have come since the message left). `target`: whom the step pages, looked up from
    `fresh`."""
    if claim == SKIPPED_BEFORE:
        return SKIPPED, None  # settled by an earlier attempt of this message
    latest = fresh or notifier.store.get_incident(incident.id) or incident
    reason = policy_rules.stop_reason(latest)
    if reason is not None:
        notifier.record(
            incident.id,
            ESCALATION_STOPPED,
            policy_rules.stopped_text(reason),
            now,
            f"escalation-{position.key()}-stopped",
            {"round": position.round, "step": position.step, "policy": policy.id},
            named_at=message.due,
        )
        notifier.ledger.settle_step(incident.id, position, STOPPED, now, detail=reason)
        return STOPPED, None
    step = policy_rules.step_at(policy, position)
    if step is None:  # the policy lost steps since this message was sent
        notifier.ledger.settle_step(incident.id, position, STOPPED, now, detail="step no longer in the policy")
        return STOPPED, None
    service_roster = _service_roster(notifier, latest)
    why = policy_rules.why(policy, position, service_roster)
    data: dict[str, Any] = {"round": position.round, "step": position.step, "policy": policy.id}
    url = notifier.channel(latest)
    if url is None:
        # Nobody can be paged at all: the timeline says so once (not once per step), and escalation ends here.
        notifier.not_configured(latest, now)
        notifier.ledger.settle_step(incident.id, position, STOPPED, now, detail="notifications not configured")
        return STOPPED, None
    person, problem = target if target is not None else _target(notifier, step, latest, service_roster, now)
    if person is None:
        text = policy_rules.gap_text(f"({why})", problem)
        discriminator = f"escalation-{position.key()}-skipped"
        notifier.record(incident.id, ESCALATION_SKIPPED, text, now, discriminator, data, named_at=message.due)
        notifier.ledger.settle_step(incident.id, position, SKIPPED, now, detail=problem)
        return SKIPPED, None
    card = cards.paged_card(latest, cards.Recipient.of(person), why, notifier.links(latest))
    gave_up: WorkflowError | None = None
    try:
        key = f"page-{position.key()}"
        # A step nobody claimed before has no card out yet: no need to ask the card ledger before posting.
        sent = notifier.send_once(
            latest, key, url, card, now, dequeue_count, deferrable=deferrable, unsent=claim is Claim.NEW
        )
    except WorkflowError as failure:
        if not deferral.gives_up(dequeue_count, deferrable):
            raise  # delivered again (redelivered or deferred); the claim is still this message's holder's
        # The last delivery: the timeline says so (send_once wrote it), and escalation goes on to the next step.
        gave_up, sent = failure, REFUSED
    outcome = FAILED if sent == REFUSED else PAGED
    # The next step is queued while this one's facts are written (they do not depend on each other); the step is
    # settled only once both are done, so a redelivery after a failure in either finds it still to finish.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="next-step") as pool:
        scheduling = pool.submit(_schedule_next, notifier, message, policy, position, now)
        if outcome == PAGED:
            # The roster whose shift was interrupted, for the readiness figures (a step may page another roster).
            paged_roster = (step.roster or service_roster) if step.notify == ROSTER_LAYER else None
            notifier.record(
                incident.id,
                ESCALATION_PAGED,
                policy_rules.paged_text(person.name, why),
                now,
                f"escalation-{position.key()}-paged",
                {**data, "person": person.name, **({"roster": paged_roster} if paged_roster else {})},
                named_at=message.due,
            )
            notifier.add_notified(incident.id, [person.name], now)
            if notifier.on_paged is not None:
                reached = notifier.reachable(person.name)  # the rules in force, read once for this page
                if _reaches_beyond_the_card(reached):
                    notifier.on_paged(notifier, latest, reached, position.key(), now, read_rules=False)
        scheduled = scheduling.result()
    notifier.ledger.settle_step(incident.id, position, outcome, now, person=person.name)
    if gave_up is not None:
        raise gave_up  # the message goes to the poison queue for an operator to see; the next step is queued
    return outcome, scheduled


def _reaches_beyond_the_card(person: Person) -> bool:
    """Whether the paged person's rules in force (people.toml, or the API's) reach them beyond the Teams card."""
    rules = person.rules
    return any(step.channel != "teams" for step in (*rules.high, *rules.low))


def _schedule_next(
    notifier: Notifier, message: StepMessage, policy: EscalationPolicy, position: Position, now: datetime
) -> Any | None:
    """The next step becomes visible on the queue after this step's wait; after the last, the chain's end is noted
    for the reminders timer."""
    wait = policy_rules.wait_after(policy, position)
    following = policy_rules.next_position(policy, position)
    if following is None:
        notifier.ledger.mark_chain_end(message.incident, policy.id, now + wait)
        return None
    step = StepMessage(message.incident, policy.id, following, now + wait)
    return notifier.account.queue(ESCALATIONS).send_message(
        json.dumps(step.to_json()), visibility_timeout=policy_rules.visibility_seconds(wait)
    )


def _policy(notifier: Notifier, message: StepMessage, incident: Incident) -> EscalationPolicy:
    config = notifier.config.escalations()
    # The message's policy, so one escalation follows one policy even if the severity changes half-way.
    return config.policy(message.policy) or config.policy_for(incident.service, incident.severity)


def _service_roster(notifier: Notifier, incident: Incident) -> str | None:
    service = notifier.config.catalog().service(incident.service)
    return service.roster if service else None


def _target(
    notifier: Notifier, step: EscalationStep, incident: Incident, service_roster: str | None, now: datetime
) -> tuple[Person | None, str]:
    """(whom the step pages, or None and why nobody)."""
    if step.notify == ROSTER_LAYER:
        roster = step.roster or service_roster
        if roster is None:
            return None, f"service {incident.service} names no roster"
        return notifier.on_call(roster, step.target, now)
    if step.notify == ROLE:
        holder = holders(incident, step.target)
        if not holder:
            return None, f"nobody is incident {step.target} yet"
        return notifier.person_named(holder[0]), ""
    if step.notify == PERSON:
        return notifier.person_named(step.target), ""
    return None, f"unknown step kind {step.notify}"


# --- reminders --------------------------------------------------------------------------------------------------------


def remind(now: datetime, notifier: Notifier) -> list[str]:
    """One pass of the reminders timer; returns what it sent, e.g. ["INC-7 reminder", "INC-8 exhausted"]. Reads the
    open incidents' index (one short range, whatever the history), then the ledger of those it may remind."""
    sent: list[str] = []
    for incident in notifier.store.list_incidents(status_filter(OPEN)):
        try:
            if incident.next_update_at is not None and incident.next_update_at <= now:
                sent += _overdue_update(notifier, incident, now)
            if policy_rules.stop_reason(incident) is None:
                sent += _exhausted(notifier, incident, now)
        except Exception:
            # One incident's trouble must not keep the others from their reminders; the next tick tries again.
            log.exception("reminders: %s could not be reminded; next tick tries again", incident.id)
    return sent


def _overdue_update(notifier: Notifier, incident: Incident, now: datetime) -> list[str]:
    assert incident.next_update_at is not None
    promised = incident.next_update_at
    key = f"reminder-{iso(promised)}"
    if notifier.ledger.sent(incident.id, key):
        return []
    url = notifier.channel(incident)
    if url is None:
        notifier.not_configured(incident, now)
        return []
    names = [*holders(incident, COMMANDER), *holders(incident, COMMS)]
    recipients = [cards.Recipient.of(notifier.person_named(name)) for name in dict.fromkeys(names)]
    card = cards.reminder_card(incident, recipients, promised, now, notifier.links(incident))
    # A failure raises (the next tick retries; the timeline is not filled with one failure a minute).
    if notifier.send_once(incident, key, url, card, now, dequeue_count=1) != SENT:
        return []
    whom = ", ".join(dict.fromkeys(names)) or "the channel (no commander or communications coordinator assigned)"
    notifier.record(
        incident.id,
        REMINDER_SENT,
        f"reminded {whom}: the public update promised for {iso(promised)} is overdue",
        now,
        f"reminder-{iso(promised)}",
        {"promised": iso(promised), "people": list(dict.fromkeys(names))},
    )
    return [f"{incident.id} reminder"]


def _exhausted(notifier: Notifier, incident: Incident, now: datetime) -> list[str]:
    end = notifier.ledger.chain_end(incident.id)
    if end is None or end[1] > now or notifier.ledger.sent(incident.id, cards.EXHAUSTED):
        return []
    policy_id, due = end
    policy = notifier.config.escalations().policy(policy_id)
    why = policy_rules.exhausted_text(policy) if policy else f"every step of escalation policy {policy_id} ran"
    url = notifier.escalation_channel(incident)
    if url is None:
        notifier.not_configured(incident, now)
        return []
    card = cards.exhausted_card(incident, why, incident.notified, notifier.links(incident))
    if notifier.send_once(incident, cards.EXHAUSTED, url, card, now, dequeue_count=1) != SENT:
        return []
    notifier.record(
        incident.id,
        ESCALATION_EXHAUSTED,
        f"escalation exhausted: {why}; the escalation channel was alerted",
        now,
        "escalation-exhausted",
        {"policy": policy_id, "due": iso(due)},
    )
    return [f"{incident.id} exhausted"]


REMINDERS_LEASE = "reminders"
REMINDERS_LEASE_FOR = timedelta(seconds=45)  # longer than a pass; shorter than the minute to the next tick


def remind_once(now: datetime, notifier: Notifier, instance: str) -> list[str]:
    """The reminders timer's tick, on one instance at a time (the escalation ledger's lease, as the sweeper's): two
    passes at once could both find a reminder unsent and post it twice. The Functions host already fires a timer
    on one instance per tick, but only within one host id: a staging slot or a second app on the same storage, or
    a host that lost its singleton lease mid-tick, would run a second pass."""
    if not notifier.ledger.take_lease(REMINDERS_LEASE, instance, now, REMINDERS_LEASE_FOR):
        return []
    return remind(now, notifier)
