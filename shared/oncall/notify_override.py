"""A person's notification rules set through the API (`PUT /api/people/{person}/notify`), which win over people.toml's
until deleted. Pure.

The body is the `[person.notify]` table as JSON, validated by the same code as the file (shared.oncall.contact_rules)
against the person's phone and Entra object id from people.toml: those stay in the file, because an SMS reply is
matched to its sender by the number listed there. Who set an override is unknown behind a function key; when is
recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shared.core.errors import ConfigurationError, InvalidInput
from shared.core.timeutil import iso
from shared.oncall.contact_rules import ContactRules, parse_rules, rules_document
from shared.oncall.people import Person

WHERE = "notify"  # errors read "notify.high[1].after_minutes: …", as the file's read "…person[0].notify.high[1]…"


@dataclass(frozen=True)
class NotifyOverride:
    person: str  # the name in people.toml
    rules: ContactRules
    updated_at: datetime
    etag: str = ""  # the stored row's version: GET hands it out, a PUT or DELETE may name it in If-Match


NEEDS_A_LEVEL = (
    "notify: state high or low (or both); a body with neither would page by the Teams card alone and silently turn "
    'phone paging off — to mean that, say {"high": [{"channel": "teams"}], "low": [{"channel": "teams"}]}'
)


def parse_notify(fields: dict[str, Any], person: Person) -> ContactRules:
    """The rules a PUT body states for `person`; InvalidInput (400, nothing stored) naming the key and the problem."""
    try:
        rules = parse_rules(fields, WHERE, person.phone, person.aad_object_id)
    except ConfigurationError as problem:
        raise InvalidInput(problem.detail) from None
    # In the file a person without `notify` gets the card alone by default; through the API that must be said.
    if "high" not in fields and "low" not in fields:
        raise InvalidInput(NEEDS_A_LEVEL)
    return rules


def channels(rules: ContactRules, level: str) -> str:
    """The level's channels in order, for a log line ("teams,sms,voice"): no phone number, no object id."""
    return ",".join(step.channel for step in rules.steps_for(level))


def effective(person: Person, override: NotifyOverride | None) -> Person:
    """The person as the ladder reaches them: the API's rules when set, else the file's."""
    return person if override is None else replace(person, rules=override.rules)


def notify_document(person: Person, override: NotifyOverride | None, file_rules: ContactRules) -> dict[str, Any]:
    """What GET/PUT/DELETE answer: the rules in force, where they come from, and the file's for comparison."""
    in_force = override.rules if override is not None else file_rules
    return {
        "person": person.name,
        "source": "api" if override is not None else "people.toml",
        "rules": rules_document(in_force),
        "updated_at": iso(override.updated_at) if override is not None else None,
        "file_rules": rules_document(file_rules),
    }
