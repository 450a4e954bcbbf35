"""Reaching a paged person on their phone: their SMS, voice and Teams activity rule steps, each sent once, in time,
unless someone acknowledged first.

`start_ladder` runs when an escalation step has paged a person (shared.notifications.escalate): each personal step
(SMS, voice, Teams activity) of their rules becomes a `contacts` queue message visible at its due time; a step due at
once is sent in this invocation (a queue hop would add a polling interval to the first SMS), and queued if that
attempt fails. `on_contact` is the `contacts` queue consumer. A step checks "acknowledged yet?" before sending;
throttling (429, Retry-After) and outages defer the message (shared.core.deferral), they do not drop it; a channel
that fails for good (a refused number, not configured, the outage bound exhausted) sends the person's next step at
once.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from shared.catalog.severity import label
from shared.contacts import ack_links
from shared.contacts.errors import ContactRejected, ContactUnavailable
from shared.contacts.ladder import ContactMessage, ladder, next_step, rules_changed, sms_text
from shared.contacts.ledger import FAILED, SENT, STOPPED, Claim, ContactLedger
from shared.core import deferral
from shared.core.errors import InvalidInput
from shared.core.once import one_per_key
from shared.core.queues import CONTACTS
from shared.core.settings import Settings
from shared.core.storage import managed_identity_client_id
from shared.incidents.incident import Incident
from shared.incidents.timeline import CONTACT_DROPPED, CONTACT_FAILED, CONTACT_SENT
from shared.notifications.notifier import Notifier, holder_of
from shared.notifications.policy import stop_reason, visibility_seconds
from shared.oncall.contact_rules import SMS, TEAMS_ACTIVITY, VOICE
from shared.oncall.people import Person

log = logging.getLogger("firebell.contacts")

WORDS = {SMS: "SMS", VOICE: "voice call", TEAMS_ACTIVITY: "Teams activity notification"}
SMS_SETTINGS = "set ACS_ENDPOINT and ACS_FROM_NUMBER (and ACS_ACCESS_KEY unless the managed identity signs in)"
TEAMS_ACTIVITY_SETTINGS = (
    "set GRAPH_TEAMS_APP_ID (and GRAPH_TENANT_ID, GRAPH_CLIENT_ID and GRAPH_CLIENT_SECRET, unless the managed identity "
    "signs in to Graph)"
)
SENT_OUT, DUPLICATE, STOPPED_OUT, FAILED_OUT, DROPPED_OUT = "sent", "duplicate", "stopped", "failed", "dropped"


@one_per_key
def _sms_sender(endpoint: str, key: str, from_number: str, identity: str) -> Any:
    from shared.contacts.sms import SmsSender  # requests loads with the first SMS only

    return SmsSender(endpoint, key, from_number, identity_client_id=identity)


def sms_sender(settings: Settings) -> Any | None:
    """One sender per process and resource; None when SMS is not configured. Without ACS_ACCESS_KEY it signs in
    with the managed identity (shared.contacts.acs_auth)."""
    if not settings.sms_configured:
        return None
    return _sms_sender(settings.acs_endpoint, settings.acs_access_key, settings.acs_from_number, _identity(settings))


def _identity(settings: Settings) -> str:
    """The user-assigned identity to sign in with when there is no access key ("" with a key: not used)."""
    return "" if settings.acs_access_key else managed_identity_client_id()


def start_ladder(
    notifier: Notifier, incident: Incident, paged: Person, page: str, now: datetime, *, read_rules: bool = True
) -> list[tuple[ContactMessage, str, Any]]:
    """Queue the paged person's personal steps; send those due now. Returns each step with what was done and
    the queue message sent for it (None when it went out here). `read_rules` False: `paged` already carries the
    rules in force (the escalation read them to decide on calling here at all)."""
    # The directory's record and the rules in force (overrides carry names).
    person = notifier.reachable(paged.name) if read_rules else paged
    done: list[tuple[ContactMessage, str, Any]] = []
    for message in ladder(incident, person, page, now):
        wait = message.due - now
        if wait > timedelta(0):
            done.append((message, "queued", enqueue(notifier, message, wait)))
            continue
        holder = f"inline-{message.key()}"
        try:
            done.append((message, run(message, holder, now, notifier, final=False, reached=person), None))
        except ContactUnavailable as outage:
            delay = deferral.next_delay({}, outage.retry_after, now) or 0
            sent = enqueue(notifier, message, timedelta(seconds=delay), holder=holder, first_failure=now)
            done.append((message, "deferred", sent))
    return done


def enqueue(
    notifier: Notifier,
    message: ContactMessage,
    wait: timedelta,
    *,
    holder: str | None = None,
    first_failure: datetime | None = None,
) -> Any:
    document: dict[str, Any] = message.to_json()
    if holder is not None and first_failure is not None:
        document = deferral.deferred({**document, deferral.HOLDER: holder}, first_failure)
    return notifier.account.queue(CONTACTS).send_message(
        json.dumps(document), visibility_timeout=visibility_seconds(wait)
    )


def on_contact(body: bytes, message_id: str, dequeue_count: int, now: datetime, notifier: Notifier) -> Any | None:
    """One `contacts` message; returns the deferred copy when the service was unavailable."""
    try:
        text = body.decode()
        document = json.loads(text)
        message = ContactMessage.from_json(document)
    except (ValueError, UnicodeDecodeError, InvalidInput) as problem:
        log.error("contacts: message %s dropped: %s", message_id, getattr(problem, "detail", problem))
        return None
    holder = holder_of(text, message_id)
    deferrable = not deferral.exhausted(document, now)
    try:
        run(message, holder, now, notifier, final=not deferrable)
    except ContactUnavailable as outage:
        delay = deferral.next_delay(document, outage.retry_after, now)
        if delay is None:
            raise  # cannot happen: a final attempt settles the step as failed
        again = deferral.deferred(document, now, **{deferral.HOLDER: holder})
        ContactLedger(notifier.account).hold(
            message.incident, message.key(), holder, now + timedelta(seconds=delay + 30)
        )
        log.warning("contacts: %s %s deferred %d s (%s)", message.incident, message.channel, delay, outage.detail)
        return notifier.account.queue(CONTACTS).send_message(json.dumps(again), visibility_timeout=delay)
    return None


def run(
    message: ContactMessage,
    holder: str,
    now: datetime,
    notifier: Notifier,
    *,
    final: bool,
    reached: Person | None = None,
) -> str:
    """Send one step unless it was sent (or is being sent) or the incident no longer needs it. `final`: an outage
    can no longer be waited out, so it fails the channel like a refusal. `reached`: the person with the rules in
    force, when the caller has just read them (a step sent as the page happens); else they are read here."""
    ledger = ContactLedger(notifier.account)
    key = message.key()
    claim = ledger.claim(message.incident, key, holder, now)
    if claim in (Claim.DONE, Claim.HELD):
        return DUPLICATE
    incident = notifier.store.get_incident(message.incident)
    reason = stop_reason(incident) if incident is not None else "the incident does not exist"
    if incident is None or reason is not None:
        ledger.settle(message.incident, key, STOPPED, now, detail=reason or "")
        return STOPPED_OUT
    person = reached if reached is not None else notifier.reachable(message.person)
    changed = rules_changed(message, person)
    if changed is not None:
        ledger.settle(message.incident, key, STOPPED, now, detail=changed)
        notifier.record(
            message.incident,
            CONTACT_DROPPED,
            f"{WORDS[message.channel]} to {person.name} (rule step {message.index + 1}) not sent: {changed}",
            now,
            f"contact-{key}-dropped",
            {"person": person.name, "channel": message.channel, "step": message.index},
            named_at=message.due,
        )
        return DROPPED_OUT
    try:
        if message.channel == SMS:
            sent_id = _send_sms(notifier, ledger, message, incident, person, now)
        elif message.channel == VOICE:
            sent_id = _place_call(notifier, ledger, message, person, now)
        elif message.channel == TEAMS_ACTIVITY:
            sent_id = _notify_in_teams(notifier, message, incident, person, now)
        else:  # ContactMessage.from_json admits personal channels only: this is a new channel not wired here
            raise ContactRejected(f"{message.channel!r} is not a channel a contact step can use")
    except ContactUnavailable as outage:
        if not final:
            raise
        return _failed(notifier, ledger, message, person, f"{outage.detail}; gave up after the outage bound", now)
    except ContactRejected as refusal:
        return _failed(notifier, ledger, message, person, refusal.detail, now)
    if sent_id and message.channel == SMS:
        ledger.remember_sms(sent_id, message.incident, person.name, key, now)
    ledger.settle(message.incident, key, SENT, now, message_id=sent_id)
    steps = len(person.rules.steps_for(message.urgency))
    notifier.record(
        message.incident,
        CONTACT_SENT,
        f"{WORDS[message.channel]} to {person.name} sent ({message.urgency} urgency, rule step {message.index + 1} "
        f"of {steps})",
        now,
        f"contact-{key}-sent",
        {"person": person.name, "channel": message.channel, "step": message.index, "message_id": sent_id},
        named_at=message.due,
    )
    return SENT_OUT


def _send_sms(
    notifier: Notifier,
    ledger: ContactLedger,
    message: ContactMessage,
    incident: Incident,
    person: Person,
    now: datetime,
) -> str:
    sender = sms_sender(notifier.settings)
    if sender is None:
        raise ContactRejected(f"SMS not configured: {SMS_SETTINGS}")
    if not person.phone:
        raise ContactRejected(f"{person.name} has no phone in people.toml")
    record = ledger.record(message.incident, message.key())
    first = record.first_attempt if record is not None else now
    text = sms_text(incident, label(incident.severity), ack_link(notifier.settings, incident.id, person.name, now))
    return sender.send(person.phone, text, f"{message.incident}/{message.key()}", first, "firebell")


@one_per_key
def _call_placer(endpoint: str, key: str, from_number: str, cognitive: str, identity: str) -> Any:
    from shared.contacts.voice import CallPlacer

    return CallPlacer(endpoint, key, from_number, cognitive, identity_client_id=identity)


def call_placer(settings: Settings) -> Any | None:
    """One per process and resource; None when calls cannot be placed (SMS settings, the events secret and a public
    address for the callback URL are all needed)."""
    if not (settings.sms_configured and settings.acs_events_secret and settings.api_base_url):
        return None
    return _call_placer(
        settings.acs_endpoint,
        settings.acs_access_key,
        settings.acs_from_number,
        settings.acs_cognitive_endpoint,
        _identity(settings),
    )


def _place_call(
    notifier: Notifier, ledger: ContactLedger, message: ContactMessage, person: Person, now: datetime
) -> str:
    placer = call_placer(notifier.settings)
    if placer is None:
        raise ContactRejected(
            "voice not configured: set ACS_ENDPOINT, ACS_FROM_NUMBER, ACS_EVENTS_SECRET and WEBSITE_HOSTNAME (for the "
            "callback), and ACS_ACCESS_KEY unless the managed identity signs in"
        )
    if not person.phone:
        raise ContactRejected(f"{person.name} has no phone in people.toml")
    settings = notifier.settings
    callback = f"{settings.api_base_url}/acs/calls?{urlencode({'secret': settings.acs_events_secret})}"
    call_id = placer.create_call(person.phone, callback, f"{message.incident} {message.key()}")
    ledger.remember_call(call_id, message.incident, person.name, message.key(), message.page, now)
    return call_id


def _notify_in_teams(
    notifier: Notifier, message: ContactMessage, incident: Incident, person: Person, now: datetime
) -> str:
    settings = notifier.settings
    if not settings.teams_activity_configured:
        raise ContactRejected(f"Teams activity notifications not configured: {TEAMS_ACTIVITY_SETTINGS}")
    if not person.aad_object_id:
        raise ContactRejected(f"{person.name} has no aad_object_id in people.toml")
    from shared.channels.connections import graph_for  # requests and azure-identity load with the first one
    from shared.contacts import teams_activity

    link = ack_link(settings, incident.id, person.name, now)
    chain = f"{message.incident}/{message.key()}"
    body = teams_activity.notification(incident, label(incident.severity), link, chain, settings.graph_teams_app_id)
    teams_activity.send(graph_for(settings, attempts=1), person.aad_object_id, body)
    return ""  # Graph names no message: there is no delivery report to match


def ack_link(settings: Settings, incident: str, person: str, now: datetime) -> str | None:
    """A signed one-time link that acknowledges as this person; None without a key or a public address."""
    if not settings.ack_link_key or not settings.api_base_url:
        return None
    return f"{settings.api_base_url}/ack/{ack_links.issue(incident, person, now, settings.ack_link_key.encode())}"


def _failed(
    notifier: Notifier, ledger: ContactLedger, message: ContactMessage, person: Person, reason: str, now: datetime
) -> str:
    """The channel failed for good: the timeline says so, and the person's next step goes out at once."""
    following = next_step(message, person, now)
    then = f"; next: {WORDS[following.channel]} at once" if following else "; no further rule step"
    notifier.record(
        message.incident,
        CONTACT_FAILED,
        f"{WORDS.get(message.channel, message.channel)} to {person.name} failed: {reason[:300]}{then}",
        now,
        f"contact-{message.key()}-failed",
        {"person": person.name, "channel": message.channel, "step": message.index},
        named_at=message.due,
    )
    if following is not None:
        enqueue(notifier, following, timedelta(0))
    ledger.settle(message.incident, message.key(), FAILED, now, detail=reason)
    return FAILED_OUT
