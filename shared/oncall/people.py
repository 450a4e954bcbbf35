"""The people Firebell knows: name, email, time zone and Teams identity, from `people.toml` in the config folder.

Teams tells us who spoke (aadObjectId, id, display name); the directory turns that into a known person. Unknown
people still work by their display name — an incident must never wait for a config change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.core.config_file import read_toml
from shared.core.errors import ConfigurationError, NotFound
from shared.oncall.contact_rules import DEFAULT_RULES, ContactRules, parse_phone, parse_rules

PEOPLE_FILE = "people.toml"
_KEYS = {"name", "email", "time_zone", "teams_id", "aad_object_id", "phone", "notify"}


@dataclass(frozen=True)
class Person:
    name: str
    email: str | None = None
    time_zone: str = "UTC"
    teams_id: str | None = None
    aad_object_id: str | None = None
    phone: str | None = None  # E.164, for SMS and voice (shared.oncall.contact_rules)
    rules: ContactRules = DEFAULT_RULES  # how Firebell reaches them once paged


@dataclass(frozen=True)
class Directory:
    people: tuple[Person, ...] = ()

    def identify(self, name: str, teams_id: str | None = None, aad_object_id: str | None = None) -> Person:
        """The known person behind a Teams identity (object id, then Teams id, then name or email), else a
        person known only by their display name."""
        for person in self.people:
            if aad_object_id and person.aad_object_id == aad_object_id:
                return person
        for person in self.people:
            if teams_id and person.teams_id == teams_id:
                return person
        return self.named(name)

    def sender(self, name: str, teams_id: str | None, aad_object_id: str | None) -> tuple[Person, bool]:
        """Who sent a signed Teams message, and whether the directory vouches for them. A person whose Entra object
        id (else Teams id) is listed is recognised by that id only: a display name is whatever the sender typed.
        An unlisted sender named like such a person is shown as unverified, never as them."""
        for person in self.people:
            if person.aad_object_id and person.aad_object_id == aad_object_id:
                return person, True
        for person in self.people:
            if not person.aad_object_id and person.teams_id and person.teams_id == teams_id:
                return person, True
        named = self.named(name)
        if named not in self.people:
            return named, False
        if named.aad_object_id or named.teams_id:
            return Person(name=f"{name.strip()} (unverified)"), False
        return named, True  # the directory lists no id for them: their display name is all there is

    def by_phone(self, phone: str) -> Person | None:
        """Who an inbound SMS or call is from: only a number listed for exactly one person vouches for them."""
        found = [person for person in self.people if person.phone and person.phone == phone.strip()]
        return found[0] if len(found) == 1 else None

    def named(self, text: str) -> Person:
        wanted = text.strip().casefold()
        for person in self.people:
            if wanted in (person.name.casefold(), (person.email or "").casefold()):
                return person
        return Person(name=text.strip())

    def listed(self, text: str) -> Person:
        """The person people.toml lists under this name or email; NotFound (404) for anyone else."""
        person = self.named(text[:200])
        if not text.strip() or person not in self.people:
            raise NotFound(f"{text.strip()[:100]!r} is not in people.toml")
        return person


def load_directory(config_dir: Path) -> Directory:
    path = config_dir / PEOPLE_FILE
    document = read_toml(path)
    if document is None:
        return Directory()  # optional: without it, everyone is known by display name
    return parse_directory(document, str(path))


def parse_directory(document: dict[str, Any], source: str) -> Directory:
    entries = document.get("person", [])
    if set(document) - {"person"} or not isinstance(entries, list):
        raise ConfigurationError(f"{source}: expected only [[person]] tables")
    people: list[Person] = []
    for index, entry in enumerate(entries):
        where = f"{source}: person[{index}]"
        if not isinstance(entry, dict):
            raise ConfigurationError(f"{where} must be a table")
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise ConfigurationError(f"{where}.{unknown[0]}: unknown key; expected one of {', '.join(sorted(_KEYS))}")
        for key, value in entry.items():
            if key != "notify" and (not isinstance(value, str) or not value.strip()):
                raise ConfigurationError(f"{where}.{key}: must be a non-empty string, got {value!r}")
        if "name" not in entry:
            raise ConfigurationError(f"{where}.name: missing")
        zone = entry.get("time_zone", "UTC")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(f"{where}.time_zone: {zone!r} is not an IANA time zone") from None
        fields = {key: value for key, value in entry.items() if key != "notify"}
        if "phone" in entry:
            fields["phone"] = parse_phone(entry["phone"], f"{where}.phone")
        if "notify" in entry:
            fields["rules"] = parse_rules(
                entry["notify"], f"{where}.notify", fields.get("phone"), fields.get("aad_object_id")
            )
        people.append(Person(**fields))
    names = [person.name.casefold() for person in people]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate:
        raise ConfigurationError(f"{source}: two people are named {duplicate!r}")
    phones = [person.phone for person in people if person.phone]
    shared_phone = next((phone for phone in phones if phones.count(phone) > 1), None)
    if shared_phone:  # an SMS reply from it could not say who acknowledged
        raise ConfigurationError(f"{source}: two people have the phone {shared_phone}")
    return Directory(tuple(people))
