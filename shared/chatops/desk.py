"""Teams commands about the team rather than one incident — `oncall`, `override`, `maintenance` — read and write
the on-call schedule, overrides and maintenances through the same flows as the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from shared.catalog.services import Catalog
from shared.chatops import grammar
from shared.chatops.desk_replies import maintenance_reply, maintenances_reply, oncall_reply, override_reply
from shared.chatops.rules import Decision, Said
from shared.core.errors import ConfigurationError, InvalidInput, NotFound
from shared.core.storage import StorageAccount
from shared.core.timeutil import iso
from shared.oncall.lookup import overrides_around
from shared.oncall.override import parse_override, parse_when
from shared.oncall.override_store import OverrideStore
from shared.oncall.people import Directory
from shared.oncall.schedule import Schedule
from shared.oncall.shifts import roster_now_and_next
from shared.statuspage.maintenance_intake import CANCELLED, DECLARED, announce, cancel_maintenance, declare_maintenance
from shared.statuspage.maintenance_store import MaintenanceStore
from shared.teams.reply import plain, text_reply


class Configuration(Protocol):
    """The configuration files the desk reads; each raises ConfigurationError while its file is invalid."""

    def catalog(self) -> Catalog: ...
    def people(self) -> Directory: ...
    def schedule(self) -> Schedule: ...


DESK_COMMANDS = (
    grammar.OnCall,
    grammar.SetOverride,
    grammar.ScheduleMaintenance,
    grammar.ListMaintenances,
    grammar.CancelMaintenance,
)


def answer(
    command: grammar.Command, said: Said, config: Configuration, maintenances: MaintenanceStore, account: StorageAccount
) -> Decision:
    """The reply to a desk command; refusals (unknown roster, bad times, …) are replies too, never errors."""
    try:
        return Decision(_reply(command, said, config, maintenances, account))
    except (InvalidInput, NotFound, ConfigurationError) as refusal:  # a broken oncall.toml is said, not a 503
        return Decision(text_reply(plain(refusal.detail)))


def _reply(
    command: grammar.Command, said: Said, config: Configuration, maintenances: MaintenanceStore, account: StorageAccount
) -> dict:
    now = said.at
    match command:
        case grammar.OnCall(roster=wanted):
            schedule, overrides = config.schedule(), OverrideStore(account, config.people())
            rosters = [schedule.roster(wanted)] if wanted else list(schedule.rosters)
            found = [
                (r, roster_now_and_next(schedule, r, now, overrides_around(schedule, overrides, r, now)))
                for r in rosters
            ]
            return oncall_reply(now, found)
        case grammar.SetOverride(roster=roster, person=person, start=start_text, end=end_text):
            fields = {"roster": roster, "person": person, "start": start_text, "end": end_text}
            fields["created_by"] = said.speaker
            # Teams' signed send time names the override, so a redelivered message stores the same row again.
            override = parse_override(fields, config.schedule(), config.people(), said.sent_at or now)
            return override_reply(OverrideStore(account, config.people()).add(override))
        case grammar.ScheduleMaintenance(services=services, start=start_text, end=end_text, text=words):
            start = _public_time(start_text, now, "from")
            fields = {
                "name": words,
                "components": list(services),
                "scheduled_for": iso(start),
                "scheduled_until": iso(_public_time(end_text, start, "until")),
            }
            # The Teams message id makes a redelivered message declare nothing new.
            declared = declare_maintenance(maintenances, config.catalog(), fields, now, said.message_id)
            announce(account, declared.maintenance, now, DECLARED)
            return maintenance_reply(declared.maintenance, now, "Scheduled")
        case grammar.ListMaintenances():
            return maintenances_reply(maintenances.list_maintenances(), now)
        case grammar.CancelMaintenance(maintenance_id=ident):
            cancelled = cancel_maintenance(maintenances, ident, now)
            announce(account, cancelled, now, CANCELLED)
            return maintenance_reply(cancelled, now, "Cancelled")
    raise AssertionError(f"not a desk command: {command!r}")


def _public_time(text: str, base: datetime, what: str) -> datetime:
    """Maintenance times are public: `now`, `+2h` or an instant WITH its zone — customers are everywhere."""
    moment = parse_when(text, "UTC", base, what)
    if text.strip()[:1].isdigit() and datetime.fromisoformat(text.strip()).tzinfo is None:
        raise InvalidInput(f"{what} {text[:40]!r} has no time zone; add one, e.g. {text.strip()}Z")
    return moment
