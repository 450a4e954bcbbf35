"""An incident channel's name and description, within Teams' rules for channel names.

Graph (channel: create) allows a displayName of at most 50 characters; Teams refuses names containing
~ # % & * { } + / \\ : < > ? | ' " , or two periods in a row, and names starting with an underscore or a period or
ending with a period. The name is `INC-7 <short title>`: the id always whole, the title cut at a word to fit,
forbidden characters turned into spaces. The name is a fact of the incident (its id and opening title), so every
delivery computes the same one, which is what the lookup by name before a create relies on.
Pure.
"""

from __future__ import annotations

import re

from shared.core.text import clean
from shared.incidents.incident import Incident

MAX_NAME = 50
MAX_DESCRIPTION = 1024  # Teams shows a short description; Graph accepts more, nobody reads more
CLOSED_MARKER = "closed"
_FORBIDDEN = re.compile(r"""[~#%&*{}+/\\:<>?|'",\u0000-\u001f]""")
_PERIODS = re.compile(r"\.{2,}")


def channel_name(incident: Incident) -> str:
    return _fitted(incident.id, incident.title)


def closed_name(incident: Incident) -> str:
    """Where archiving is unavailable: the same channel renamed `INC-7 closed <title>`, so it sorts as done."""
    return _fitted(f"{incident.id} {CLOSED_MARKER}", incident.title)


def description(incident: Incident, status_page: str | None, runbook: str | None) -> str:
    parts = [f"{incident.id} (severity {incident.severity}, {incident.service}): {clean(incident.title)}"]
    if status_page:
        parts.append(f"Status page: {status_page}")
    if runbook:
        parts.append(f"Runbook: {runbook}")
    parts.append("Commands here need no incident id: @firebell ack, @firebell update …, @firebell resolve …")
    return "\n".join(parts)[:MAX_DESCRIPTION]


def _fitted(prefix: str, title: str) -> str:
    words = _PERIODS.sub(".", _FORBIDDEN.sub(" ", clean(title))).split()
    name = prefix
    for word in words:
        if len(name) + 1 + len(word) > MAX_NAME:
            if name == prefix:  # one long first word: cut it rather than show no title at all
                name = f"{prefix} {word[: MAX_NAME - len(prefix) - 1]}"
            break
        name = f"{name} {word}"
    name = name.rstrip(". ")
    return name if not name.startswith(("_", ".")) else name.lstrip("_.")
