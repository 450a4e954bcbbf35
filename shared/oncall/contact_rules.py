"""A person's own notification rules: how Firebell reaches them once an escalation step pages them. Pure.

Per urgency (high: SEV1–2, low: SEV3–4) an ordered list of (channel, delay after the page): e.g. the Teams card at
once, an SMS after 1 minute, a voice call after 3. Quiet hours (in the person's time zone) hold low-urgency SMS,
calls and Teams activity notifications until they end; the Teams card is never held. Without rules of their own a
person gets the Teams card alone, as before. The same table is accepted through the API (shared.oncall.notify_override),
validated here.

people.toml:
    phone = "+13035550142"                       # E.164
    [person.notify]
    high = [{ channel = "teams" }, { channel = "sms", after_minutes = 1 }, { channel = "voice", after_minutes = 3 }]
    low = [{ channel = "teams" }, { channel = "sms", after_minutes = 15 }]
    quiet_hours = { start = "22:00", end = "07:00" }
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.core.config_file import known_keys
from shared.core.errors import ConfigurationError

# `teams` is the escalation step's card in the channel; `teams_activity` a Teams activity-feed notification to the
# person alone (Microsoft Graph), which reaches their phone like an SMS does.
TEAMS, SMS, VOICE, TEAMS_ACTIVITY = "teams", "sms", "voice", "teams_activity"
CHANNELS = (TEAMS, SMS, VOICE, TEAMS_ACTIVITY)
PHONE_CHANNELS = (SMS, VOICE)
PERSONAL_CHANNELS = (SMS, VOICE, TEAMS_ACTIVITY)  # sent by the contacts ladder, held by quiet hours
HIGH, LOW = "high", "low"
MAX_DELAY_MINUTES = 24 * 60
MAX_STEPS = 10
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")  # ITU-T E.164: a country code, at most 15 digits in all
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


@dataclass(frozen=True)
class ContactStep:
    channel: str  # TEAMS | SMS | VOICE
    delay: timedelta = timedelta(0)  # after the escalation step paged the person


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time  # earlier than start: the quiet hours span midnight

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class ContactRules:
    high: tuple[ContactStep, ...] = (ContactStep(TEAMS),)
    low: tuple[ContactStep, ...] = (ContactStep(TEAMS),)
    quiet_hours: QuietHours | None = None

    def steps_for(self, urgency: str) -> tuple[ContactStep, ...]:
        return self.high if urgency == HIGH else self.low


DEFAULT_RULES = ContactRules()


def urgency(severity: int) -> str:
    return HIGH if severity <= 2 else LOW


def due_at(step: ContactStep, paged_at: datetime, urgency_: str, rules: ContactRules, time_zone: str) -> datetime:
    """When the step goes out: its delay after the page, held to the end of quiet hours for a low-urgency SMS or call
    (quiet hours are the person's, in their own time zone)."""
    due = paged_at + step.delay
    quiet = rules.quiet_hours
    if urgency_ != LOW or quiet is None or step.channel not in PERSONAL_CHANNELS:
        return due
    zone = ZoneInfo(time_zone)
    local = due.astimezone(zone)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return due
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    # Wall-clock arithmetic in the zone, then back to UTC (a DST change inside the quiet hours is honoured).
    return datetime.combine(end.date(), quiet.end, tzinfo=zone).astimezone(due.tzinfo)


def parse_phone(value: Any, where: str) -> str:
    if not isinstance(value, str) or not E164.match(value.strip()):
        raise ConfigurationError(f'{where}: {value!r} is not an E.164 phone number (e.g. "+13035550142")')
    return value.strip()


def parse_rules(table: Any, where: str, phone: str | None, teams_user: str | None = None) -> ContactRules:
    """`[person.notify]`; `where` is "people.toml: person[3].notify". `phone` and `teams_user` (the Entra object id)
    are the person's, which `sms`/`voice` and `teams_activity` steps need."""
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: must be a table")
    known_keys(table, {HIGH, LOW, "quiet_hours"}, where)
    reach = (phone, teams_user)
    high = _steps(table.get(HIGH), f"{where}.{HIGH}", reach) if HIGH in table else DEFAULT_RULES.high
    low = _steps(table.get(LOW), f"{where}.{LOW}", reach) if LOW in table else DEFAULT_RULES.low
    quiet = _quiet_hours(table["quiet_hours"], f"{where}.quiet_hours") if "quiet_hours" in table else None
    return ContactRules(high, low, quiet)


def _steps(value: Any, where: str, reach: tuple[str | None, str | None]) -> tuple[ContactStep, ...]:
    phone, teams_user = reach
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_STEPS:
        raise ConfigurationError(f"{where}: must be a list of 1–{MAX_STEPS} {{ channel, after_minutes }} tables")
    steps: list[ContactStep] = []
    for index, entry in enumerate(value):
        here = f"{where}[{index}]"
        if not isinstance(entry, dict):
            raise ConfigurationError(f'{here}: must be a table {{ channel = "sms", after_minutes = 1 }}')
        known_keys(entry, {"channel", "after_minutes"}, here)
        channel = entry.get("channel")
        if channel not in CHANNELS:
            raise ConfigurationError(f"{here}.channel: {channel!r} is not one of {', '.join(CHANNELS)}")
        if channel in PHONE_CHANNELS and phone is None:
            raise ConfigurationError(f"{here}.channel: {channel} needs the person's phone (E.164)")
        if channel == TEAMS_ACTIVITY and teams_user is None:
            raise ConfigurationError(f"{here}.channel: {channel} needs the person's aad_object_id (Entra object id)")
        minutes = entry.get("after_minutes", 0)
        if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 <= minutes <= MAX_DELAY_MINUTES:
            raise ConfigurationError(f"{here}.after_minutes: must be 0–{MAX_DELAY_MINUTES}, got {minutes!r}")
        step = ContactStep(channel, timedelta(minutes=minutes))
        if steps and step.delay < steps[-1].delay:
            raise ConfigurationError(f"{here}.after_minutes: steps must be in order of their delay")
        if step in steps:
            raise ConfigurationError(f"{here}: the same channel and delay twice")
        steps.append(step)
    return tuple(steps)


def _quiet_hours(value: Any, where: str) -> QuietHours:
    if not isinstance(value, dict):
        raise ConfigurationError(f'{where}: must be a table {{ start = "22:00", end = "07:00" }}')
    known_keys(value, {"start", "end"}, where)
    bounds = []
    for key in ("start", "end"):
        text = value.get(key)
        matched = _CLOCK.match(text) if isinstance(text, str) else None
        if matched is None:
            raise ConfigurationError(f'{where}.{key}: must be a 24-hour time "HH:MM", got {text!r}')
        bounds.append(time(int(matched[1]), int(matched[2])))
    if bounds[0] == bounds[1]:
        raise ConfigurationError(f"{where}: start and end are the same time")
    return QuietHours(bounds[0], bounds[1])


def rules_document(rules: ContactRules) -> dict[str, Any]:
    """The rules as the `notify` table that parse_rules reads (the API's answer; an override's stored form)."""
    document: dict[str, Any] = {
        level: [_step_document(step) for step in rules.steps_for(level)] for level in (HIGH, LOW)
    }
    if rules.quiet_hours is not None:
        quiet = rules.quiet_hours
        document["quiet_hours"] = {"start": quiet.start.strftime("%H:%M"), "end": quiet.end.strftime("%H:%M")}
    return document


def _step_document(step: ContactStep) -> dict[str, Any]:
    minutes = step.delay.total_seconds() / 60
    return {"channel": step.channel, "after_minutes": int(minutes) if minutes.is_integer() else minutes}
