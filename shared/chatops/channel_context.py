"""A command said in an incident's own channel need not name the incident: `@firebell ack` in INC-7's channel is
`ack INC-7`. The outgoing webhook is team-wide, so the same webhook hears every channel; the channel the message came
from (its conversation id) names the incident through the channels ledger (shared.channels.ledger).

Only a command that takes an incident id and was said without one gets it: a command naming an incident (even
another one) is left as said, and so are commands without an id (declare, list, oncall, …). Pure.
"""

from __future__ import annotations

from shared.chatops import grammar

# Commands whose id comes last rather than right after the command word.
_ID_LAST = frozenset({"page"})
# Commands that take an incident id (grammar.COMMANDS' "<id>").
TAKES_ID = frozenset(name for name, usage in grammar.COMMANDS.items() if "<id>" in usage)


def channel_of(conversation_id: str | None) -> str | None:
    """The channel of an outgoing webhook activity: its conversation id up to `;messageid=…`."""
    if not conversation_id:
        return None
    channel = conversation_id.split(";", 1)[0].strip()
    return channel or None


def with_channel_incident(text: str, incident_id: str) -> str | None:
    """The command text with the channel's incident in place, when it needs one and has none; None otherwise."""
    parsed = grammar.parse_command(text)
    if not isinstance(parsed, grammar.Invalid) or parsed.incident_id is not None or parsed.command not in TAKES_ID:
        return None
    words = text.split()
    rest = " ".join(words[1:])
    placed = (
        f"{parsed.command} {rest} {incident_id}"
        if parsed.command in _ID_LAST
        else f"{parsed.command} {incident_id} {rest}"
    )
    placed = placed.strip()
    return placed if not isinstance(grammar.parse_command(placed), grammar.Invalid) else None
