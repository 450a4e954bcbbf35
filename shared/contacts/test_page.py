"""`test-page <person>`: a harmless test through every channel of a person's rules — the Teams card, an SMS, a call,
a Teams activity notification — and what became of each, so a new on-call engineer knows before 03:00 that the page
reaches them. Nothing is recorded on any incident; the test call says it is a test and hangs up after the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from shared.contacts.calls import TEST_CALL as TEST
from shared.contacts.contact import SMS_SETTINGS, TEAMS_ACTIVITY_SETTINGS, call_placer, sms_sender
from shared.contacts.errors import ContactFailed
from shared.contacts.ladder import sms_text
from shared.contacts.ledger import ContactLedger
from shared.core.links import is_web_url
from shared.core.timeutil import iso
from shared.notifications import cards
from shared.notifications.notifier import Notifier
from shared.oncall.contact_rules import SMS, TEAMS, TEAMS_ACTIVITY, VOICE
from shared.teams.workflow import WorkflowError

SENT, FAILED, NOT_CONFIGURED = "sent", "failed", "not configured"


@dataclass(frozen=True)
class Attempt:
    channel: str
    outcome: str  # SENT | FAILED | NOT_CONFIGURED
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"channel": self.channel, "outcome": self.outcome, "detail": self.detail}


def test_page(name: str, now: datetime, notifier: Notifier) -> tuple[str, list[Attempt]]:
    """(the person's name, what each channel of their rules did); NotFound for someone not in people.toml."""
    person = notifier.reachable(notifier.config.people().listed(name).name)  # the rules in force, the API's when set
    channels = list(dict.fromkeys(step.channel for step in (*person.rules.high, *person.rules.low)))
    attempts = []
    for channel in channels:
        try:
            attempts.append(_try(channel, person, now, notifier))
        except (ContactFailed, WorkflowError) as failure:
            attempts.append(Attempt(channel, FAILED, failure.detail))
    return person.name, attempts


def _try(channel: str, person: object, now: datetime, notifier: Notifier) -> Attempt:
    settings = notifier.settings
    phone = getattr(person, "phone", None)
    if channel == TEAMS:
        url = settings.teams_workflow_url
        if not is_web_url(url):
            return Attempt(TEAMS, NOT_CONFIGURED, "set TEAMS_WORKFLOW_URL")
        notifier.workflow.post(url, cards.encode(cards.test_page_card(cards.Recipient.of(person))))
        return Attempt(TEAMS, SENT, "card posted to the Teams channel")
    if channel == SMS:
        sender = sms_sender(settings)
        if sender is None:
            return Attempt(SMS, NOT_CONFIGURED, SMS_SETTINGS)
        repeatability = f"test-{person.name}-{iso(now)}"  # type: ignore[attr-defined]
        message_id = sender.send(phone, sms_text(None, "", None, test=True), repeatability, now, "firebell-test")
        return Attempt(SMS, SENT, f"accepted by Communication Services (message {message_id})")
    if channel == VOICE:
        placer = call_placer(settings)
        if placer is None:
            return Attempt(VOICE, NOT_CONFIGURED, "set the ACS settings, ACS_EVENTS_SECRET and WEBSITE_HOSTNAME")
        callback = f"{settings.api_base_url}/acs/calls?{urlencode({'secret': settings.acs_events_secret})}"
        call_id = placer.create_call(phone, callback, TEST)
        ContactLedger(notifier.account).remember_call(call_id, TEST, person.name, TEST, "", now)  # type: ignore[attr-defined]
        return Attempt(VOICE, SENT, "call placed: it says it is a test")
    if channel == TEAMS_ACTIVITY:
        if not settings.teams_activity_configured:
            return Attempt(TEAMS_ACTIVITY, NOT_CONFIGURED, TEAMS_ACTIVITY_SETTINGS)
        from shared.channels.connections import graph_for
        from shared.contacts import teams_activity

        chain = f"test-{person.name}-{iso(now)}"  # type: ignore[attr-defined]
        body = teams_activity.notification(None, "", None, chain, settings.graph_teams_app_id)
        teams_activity.send(graph_for(settings, attempts=1), person.aad_object_id, body)  # type: ignore[attr-defined]
        return Attempt(TEAMS_ACTIVITY, SENT, "activity notification accepted by Microsoft Graph")
    return Attempt(channel, FAILED, "unknown channel")
