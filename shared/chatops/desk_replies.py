"""ChatOps replies for commands about the team rather than one incident: who is on call, overrides, maintenance.

Pure: the caller reads the schedule, overrides and maintenances and passes them in. Names people typed are
escaped for Teams' Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.core.timeutil import iso
from shared.oncall.override import Override
from shared.oncall.schedule import Roster
from shared.oncall.shifts import Shift
from shared.statuspage.maintenance import Maintenance
from shared.teams.reply import plain, text_reply

LayerShifts = tuple[str, Shift | None, Shift | None]  # (layer, now, next)


def oncall_reply(at: datetime, rosters: Sequence[tuple[Roster, Sequence[LayerShifts]]]) -> dict[str, Any]:
    if not rosters:
        return text_reply("No on-call rosters are configured (config/oncall.toml).")
    blocks = []
    for roster, layers in rosters:
        lines = [f"**{plain(roster.name)}** (`{roster.id}`)"]
        for layer, current, following in layers:
            now_text = _covering(current, roster.time_zone) if current else "**nobody** — a gap in the rota"
            next_text = f"; next {_covering(following, roster.time_zone, starting=True)}" if following else ""
            lines.append(f"- {layer}: {now_text}{next_text}")
        blocks.append("\n".join(lines))
    return text_reply(f"On call at {iso(at)}:\n\n" + "\n\n".join(blocks))


def override_reply(override: Override) -> dict[str, Any]:
    zone = override.person.time_zone
    return text_reply(
        f"**{plain(override.roster)}** {override.layer}: {plain(override.person.name)} is on call "
        f"from {_local(override.start, zone)} until {_local(override.end, zone)} (override {override.id})."
    )


def maintenance_reply(maintenance: Maintenance, now: datetime, what: str) -> dict[str, Any]:
    return text_reply(f"{what} {_maintenance_line(maintenance, now)}. The status page shows it shortly.")


def maintenances_reply(maintenances: Sequence[Maintenance], now: datetime) -> dict[str, Any]:
    current = [m for m in maintenances if m.status(now) != "completed"]
    if not current:
        return text_reply("No maintenance is scheduled or in progress.")
    lines = "\n".join(f"- {_maintenance_line(m, now)}" for m in current)
    return text_reply(f"{len(current)} maintenance window(s):\n\n{lines}")


def _maintenance_line(maintenance: Maintenance, now: datetime) -> str:
    status = "cancelled" if maintenance.cancelled_at else maintenance.status(now).replace("_", " ")
    return (
        f"**{maintenance.id}** {plain(maintenance.name)} — {plain(', '.join(maintenance.components))}, "
        f"{iso(maintenance.scheduled_for)} → {iso(maintenance.scheduled_until)} ({status})"
    )


def _covering(shift: Shift, roster_zone: str, *, starting: bool = False) -> str:
    who = f"**{plain(shift.person.name)}**" + (" (override)" if shift.override else "")
    when = f"from {_local(shift.start, roster_zone)}" if starting else f"until {_local(shift.end, roster_zone)}"
    return f"{who} {when}"


def _local(moment: datetime, zone: str) -> str:
    """The roster's (or person's) wall clock with its zone name, and the instant in UTC for everyone else."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a %d %b %H:%M} {zone} ({iso(moment)})"
