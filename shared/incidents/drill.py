"""Drills (Chaos Days): exercise incidents that page, escalate and take commands like real ones, but are never
public, never measured, and labelled DRILL wherever people see them.

An incident is a drill from its opening and for good (Incident.drill): declared with `"drill": true` or `drill <sev>
<title>`, or opened by an alert whose action group sets `firebell_drill = "true"` (shared.azure_monitor.alert).
"""

from __future__ import annotations

LABEL = "DRILL"
# A drill's alert groups are its own: a drill alert never joins a real incident, and a real alert never a drill.
GROUP_PREFIX = "drill-"


def drill_group(group: str | None, drill: bool) -> str | None:
    return GROUP_PREFIX + group if drill and group is not None else group


def labelled(text: str, drill: bool) -> str:
    """Words people read about an incident, with DRILL in front when it is an exercise."""
    return f"{LABEL} · {text}" if drill else text
