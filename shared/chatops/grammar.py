"""Teams ChatOps commands: the plain text of a message addressed to Firebell → one command, a frozen dataclass.

The text comes from `shared.teams_activity.parse_activity` (mentions already flattened to names, markup removed).
Parsing is pure and total: any string gives a command. Text that is not a well-formed command still yields a value
the caller can answer and record (Help, Note, Unknown, Invalid), because the scribe keeps every message.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeAlias

from shared.incidents.lifecycle import MILESTONES as MILESTONE_FIELDS
from shared.incidents.roles import TITLES

MAX_TITLE = 200
MAX_PERSON = 100
MAX_WORD = 40  # an unknown command word is echoed back in the reply; keep it short
# Two-letter words ("is", "it") resemble "list" as much as "akc" resembles "ack", but are plain talk, not typos.
MIN_SUGGESTED_WORD = 3
MAX_NEXT_UPDATE_MINUTES = 7 * 24 * 60

ROLES = tuple(TITLES)
ROLE_TITLES = TITLES
MILESTONES = tuple(MILESTONE_FIELDS)
UPDATE_STATUSES = ("investigating", "identified", "monitoring")  # the public statuses an update may set

# One line of usage per command, in the order the help reply lists them.
COMMANDS = {
    "help": "help [command] — what Firebell understands",
    "declare": "declare <severity 1–4> <title> — declare an incident (1 is the worst)",
    "drill": "drill <severity 1–4> <title> — start a drill: pages like an incident, never public, never measured",
    "list": "list — the open incidents",
    "status": "status <id> — where an incident stands",
    "ack": "ack <id> — acknowledge: you are on it",
    "sev": "sev <id> <1–4> — change the severity",
    "role": "role <id> <commander|comms|scribe|primary|secondary|sme> <person> — assign a role",
    "handoff": "handoff <id> <person> — hand incident command to someone else",
    "update": "update <id> [investigating|identified|monitoring] <public text> — post a public update",
    "note": "note <id> <text> — add an internal note to the timeline",
    "resolve": "resolve <id> [summary] — resolve the incident",
    "reopen": "reopen <id> — reopen a resolved incident",
    "postmortem": "postmortem <id> [facilitator] — start the blameless post-incident review of a resolved incident",
    "close": "close <id> — close a resolved incident, or one whose review is done",
    "timeline": "timeline <id> — show the incident's timeline",
    "action": (
        "action <id> <follow-up> [owner: <person>] [due: <YYYY-MM-DD | in 3d | in 2w>] — record a follow-up item "
        "(its owner is you unless you name one; an overdue follow-up reminds its owner daily until done in Boards)"
    ),
    "milestone": (
        "milestone <id> <started|detected|acknowledged|mitigated|resolved> <ISO 8601 time> — correct a milestone"
    ),
    "release": "release <id> <role> [person] — release a role",
    "component": (
        "component <id> <operational|degraded|partial|major|auto> <component> — set a component's public status "
        "while the incident is open (auto: back to the status its severity gives)"
    ),
    "page": "page <roster|person> <id> — page a roster's on-call responder, or a person, about an incident",
    "channel": "channel <id> — give the incident its own Teams channel (made for severe incidents anyway)",
    "oncall": "oncall [roster] — who is on call now and next",
    "test-page": "test-page <person> — a harmless test page through every channel of their rules (Teams, SMS, call)",
    "override": "override <roster> <person> <from> <until> — put someone on call (times: ISO 8601 with zone, now, +8h)",
    "maintenance": (
        "maintenance <service[,service]> <from> <until> <public words> — announce scheduled maintenance; "
        "maintenance list; maintenance cancel <MNT-id>"
    ),
}
_COMMAND_ALIASES = {
    "?": "help",
    "acknowledge": "ack",
    "severity": "sev",
    "hand-off": "handoff",
    "follow-up": "action",
    "post-mortem": "postmortem",
}
_ROLE_ALIASES = {
    "ic": "commander",
    "incident-commander": "commander",
    "communications": "comms",
    "communication": "comms",
    "cc": "comms",
    "expert": "sme",
}
_ROLE_LIST = ", ".join(ROLES)
# Public component statuses a person may set, by the short words people type; "auto" clears the override.
COMPONENT_STATUSES = {
    "operational": "operational",
    "degraded": "degraded_performance",
    "degraded_performance": "degraded_performance",
    "partial": "partial_outage",
    "partial_outage": "partial_outage",
    "major": "major_outage",
    "major_outage": "major_outage",
    "maintenance": "under_maintenance",
    "under_maintenance": "under_maintenance",
    "auto": None,
}
MAX_ROSTER = 64
MAX_SERVICES = 20
# What each command needs, said with an example; the problem of an Invalid unless a more precise one applies.
_NEEDS = {
    "declare": "a severity 1–4 and a title: declare 2 Checkout is failing",
    "drill": "a severity 1–4 and a title: drill 2 Checkout is failing (Chaos Day)",
    "status": "an incident id: status INC-7",
    "ack": "an incident id: ack INC-7",
    "sev": "an incident id and a severity 1–4: sev INC-7 2",
    "role": f"an incident id, a role ({_ROLE_LIST}) and a person: role INC-7 commander Alex Kim",
    "handoff": "an incident id and the next incident commander: handoff INC-7 Alex Kim",
    "update": (
        "an incident id, optionally a status (investigating, identified, monitoring), and the public text: "
        "update INC-7 identified A bad deploy, rolling back. Next update in 30 min"
    ),
    "note": "an incident id and the text: note INC-7 the database failed over",
    "resolve": "an incident id and optionally a summary: resolve INC-7 rolled back the deploy",
    "reopen": "an incident id: reopen INC-7",
    "postmortem": "an incident id and optionally the facilitator: postmortem INC-7 Alex Kim",
    "close": "an incident id: close INC-7",
    "timeline": "an incident id: timeline INC-7",
    "action": (
        "an incident id and the follow-up, optionally with its owner and due date: "
        "action INC-7 alert on queue depth owner:Alex Kim due:2026-12-20"
    ),
    "milestone": (
        f"an incident id, a milestone ({', '.join(MILESTONES)}) and an ISO 8601 time: "
        "milestone INC-7 mitigated 2026-11-23T09:40Z"
    ),
    "release": f"an incident id, a role ({_ROLE_LIST}) and optionally the person: release INC-7 sme Alex Kim",
    "component": "an incident id, a status and a component: component INC-7 partial Checkout",
    "page": "who to page (a roster or a person) and an incident id: page payments INC-7",
    "channel": "an incident id: channel INC-7",
    "test-page": "a person: test-page Tim Jones",
    "override": ("a roster, a person and the times they cover: override payments Alex Kim 2026-12-03T09:00Z +8h"),
    "maintenance": (
        "the services, start, end and public words: maintenance checkout 2026-12-03T01:00Z +2h Database upgrade"
        " — or maintenance list, or maintenance cancel MNT-3"
    ),
}
NEEDS_ZONE = "give the time with its zone, e.g. 2026-11-23T09:40Z"

# ASCII only: "\d" and case folding would otherwise accept other scripts' digits and letters.
_INCIDENT_ID = re.compile(r"INC-([0-9]{1,9})", re.IGNORECASE | re.ASCII)
_INCIDENT_ID_IN_TEXT = re.compile(rf"\b{_INCIDENT_ID.pattern}\b", re.IGNORECASE | re.ASCII)
_SEVERITY = re.compile(r"(?:sev)?([1-4])", re.IGNORECASE | re.ASCII)
_NEXT_UPDATE = re.compile(
    r"\bnext update (?:in|within) (?:([0-9]{1,4}) ?|(an?) )(minutes?|mins?|m|hours?|hrs?|h)\b",
    re.IGNORECASE | re.ASCII,
)
_MAINTENANCE_ID = re.compile(r"MNT-([0-9]{1,9})", re.IGNORECASE | re.ASCII)
MAX_TIME = 40  # "2026-12-03T09:00:00.000+05:30" and "+1d12h" fit
MAX_DUE_DAYS = 365  # a follow-up due further away is a plan, not a follow-up
# `action` clauses: keywords with a colon, so follow-up words such as "owner" or "due" stay words.
OWNER_CLAUSE, DUE_CLAUSE = "owner:", "due:"
_RELATIVE_DUE = re.compile(r"(?:in ?|\+)([0-9]{1,3}) ?(d|days?|w|weeks?)", re.IGNORECASE | re.ASCII)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# Problems are said after "`action` needs …".
NEEDS_DUE = "due: with a date, or days or weeks from today: due: 2026-12-20, due: in 3d, due: in 2w"
_TRAILING_PUNCTUATION = ".,:;!?"  # "ack INC-7." and "help?" still mean ack and help


@dataclass(frozen=True)
class Help:
    topic: str | None  # a command name from COMMANDS, or None for the overview


@dataclass(frozen=True)
class Declare:
    severity: int  # 1 (worst) … 4
    title: str


@dataclass(frozen=True)
class Drill:
    """Declare an exercise incident (shared.incidents.drill)."""

    severity: int  # 1 (worst) … 4
    title: str


@dataclass(frozen=True)
class ListIncidents:
    pass


@dataclass(frozen=True)
class Status:
    incident_id: str


@dataclass(frozen=True)
class Ack:
    incident_id: str


@dataclass(frozen=True)
class SetSeverity:
    incident_id: str
    severity: int


@dataclass(frozen=True)
class AssignRole:
    incident_id: str
    role: str  # one of ROLES
    person: str


@dataclass(frozen=True)
class Handoff:
    """Incident command passes to `person` (explicit, so the hand-off itself is on the timeline)."""

    incident_id: str
    person: str


@dataclass(frozen=True)
class Update:
    incident_id: str
    status: str | None  # one of UPDATE_STATUSES, or None to keep the current one
    text: str  # public: the status page shows it verbatim (escaped), including any "next update in …"
    next_update_minutes: int | None


@dataclass(frozen=True)
class Note:
    incident_id: str
    text: str  # internal


@dataclass(frozen=True)
class Resolve:
    incident_id: str
    summary: str | None


@dataclass(frozen=True)
class Reopen:
    incident_id: str


@dataclass(frozen=True)
class AskChannel:
    incident_id: str


@dataclass(frozen=True)
class StartReview:
    """`postmortem <id> [facilitator]`: the review of a resolved incident starts."""

    incident_id: str
    person: str | None  # the facilitator (named `person` so a mention becomes the person Firebell knows)


@dataclass(frozen=True)
class Close:
    incident_id: str


@dataclass(frozen=True)
class Timeline:
    incident_id: str


@dataclass(frozen=True)
class FollowUp:
    """`action <id> <text> [owner: <person>] [due: <when>]`: a follow-up item for after the incident."""

    incident_id: str
    text: str
    owner: str | None = None  # None: whoever said it owns it
    due: date | int | None = None  # a date, or a number of days from the day it was said (`in 3d`, `in 2w`)


@dataclass(frozen=True)
class Milestone:
    incident_id: str
    name: str  # one of MILESTONES
    at: datetime  # UTC


@dataclass(frozen=True)
class ReleaseRole:
    incident_id: str
    role: str  # one of ROLES
    person: str | None  # None: whoever holds the role (needed to pick one of several subject-matter experts)


@dataclass(frozen=True)
class SetComponentStatus:
    """The communication coordinator's say on a component's public status while the incident is open."""

    incident_id: str
    component: str
    status: str | None  # a Statuspage component status; None returns to the status derived from severity


@dataclass(frozen=True)
class Page:
    incident_id: str
    target: str  # a roster id or a person


@dataclass(frozen=True)
class SendTestPage:
    person: str


@dataclass(frozen=True)
class OnCall:
    roster: str | None  # None: every roster


@dataclass(frozen=True)
class SetOverride:
    """Times as typed: ISO 8601, a local time in the person's zone, `now` or `+8h` (an end counts from the start);
    shared.override.parse_when reads them, as it does for the API."""

    roster: str
    person: str
    start: str
    end: str


@dataclass(frozen=True)
class ScheduleMaintenance:
    services: tuple[str, ...]  # service ids or component names, as typed
    start: str  # as SetOverride's, except that a time without a zone is refused: customers are everywhere
    end: str
    text: str  # public words


@dataclass(frozen=True)
class ListMaintenances:
    pass


@dataclass(frozen=True)
class CancelMaintenance:
    maintenance_id: str


@dataclass(frozen=True)
class Unknown:
    word: str  # the first word, lower-cased, at most MAX_WORD characters
    suggestion: str | None  # the command it most resembles
    incident_id: str | None  # an incident the text mentions, so the message can still go on its timeline


@dataclass(frozen=True)
class Invalid:
    command: str  # the command name from COMMANDS
    problem: str  # what the command expects, with an example
    incident_id: str | None


Command: TypeAlias = (
    Help
    | Declare
    | Drill
    | ListIncidents
    | Status
    | Ack
    | SetSeverity
    | AssignRole
    | Handoff
    | Update
    | Note
    | Resolve
    | Reopen
    | AskChannel
    | StartReview
    | Close
    | Timeline
    | FollowUp
    | Milestone
    | ReleaseRole
    | SetComponentStatus
    | Page
    | OnCall
    | SendTestPage
    | SetOverride
    | ScheduleMaintenance
    | ListMaintenances
    | CancelMaintenance
    | Unknown
    | Invalid
)


class _Problem(Exception):
    """The arguments do not fit the command; `detail` replaces the command's usage sentence when given."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail


def parse_command(text: str) -> Command:
    words = text.split()
    if not words:
        return Help(topic=None)
    command = _command(words[0])
    if command is None:
        return _not_a_command(words)
    try:
        return _PARSERS[command](words[1:])
    except _Problem as problem:
        detail = problem.detail or f"{command} needs {_NEEDS[command]}"
        return Invalid(command=command, problem=detail, incident_id=_mentioned_incident(" ".join(words)))


def _not_a_command(words: list[str]) -> Command:
    text = " ".join(words)
    word = _word(words[0])[:MAX_WORD]
    suggestion = _suggestion(word)
    incident_id = _mentioned_incident(text)
    # Plain talk about an incident is a note; a near-miss of a command word is more likely a typo, worth a reply.
    if suggestion is None and incident_id is not None:
        return Note(incident_id=incident_id, text=text)
    return Unknown(word=word, suggestion=suggestion, incident_id=incident_id)


def _word(token: str) -> str:
    lowered = token.lower()
    return lowered.rstrip(_TRAILING_PUNCTUATION) or lowered


def _command(token: str) -> str | None:
    word = _word(token)
    return word if word in COMMANDS else _COMMAND_ALIASES.get(word)


def _suggestion(word: str) -> str | None:
    if len(word) < MIN_SUGGESTED_WORD:
        return None
    matches = difflib.get_close_matches(word, [*COMMANDS, *_COMMAND_ALIASES], n=1, cutoff=0.6)
    return _command(matches[0]) if matches else None


def _mentioned_incident(text: str) -> str | None:
    match = _INCIDENT_ID_IN_TEXT.search(text)
    return f"INC-{int(match.group(1))}" if match else None


# Argument readers: each returns the value or raises _Problem.


def _incident_id(args: list[str]) -> str:
    match = _INCIDENT_ID.fullmatch(args[0].rstrip(_TRAILING_PUNCTUATION)) if args else None
    if match is None:
        raise _Problem()
    return f"INC-{int(match.group(1))}"  # "inc-007" and "INC-7" are the same incident


def _severity(token: str) -> int:
    match = _SEVERITY.fullmatch(_word(token))
    if match is None:
        raise _Problem()
    return int(match.group(1))


def _role(token: str) -> str:
    word = _word(token)
    role = word if word in ROLES else _ROLE_ALIASES.get(word)
    if role is None:
        raise _Problem()
    return role


def _person(words: list[str]) -> str:
    person = " ".join(words).removeprefix("@").strip()
    if not person:
        raise _Problem()
    return _bounded(person, MAX_PERSON, "the person's name")


def _bounded(text: str, limit: int, what: str) -> str:
    if len(text) > limit:
        raise _Problem(f"{what} is {len(text)} characters; the limit is {limit}")
    return text


def _next_update_minutes(text: str) -> int | None:
    match = _NEXT_UPDATE.search(text)
    if match is None:
        return None
    count, _article, unit = match.groups()
    minutes = (int(count) if count else 1) * (60 if unit.lower().startswith("h") else 1)
    if not 1 <= minutes <= MAX_NEXT_UPDATE_MINUTES:
        raise _Problem("the next update must be between 1 minute and 7 days away, e.g. next update in 30 min")
    return minutes


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Problem() from None
    if moment.tzinfo is None:
        raise _Problem(NEEDS_ZONE)  # a bare time means different moments to responders in different zones
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted across midnight
        raise _Problem() from None


def _when(token: str) -> str:
    return _bounded(token, MAX_TIME, "a time")


def _name(token: str, limit: int, what: str) -> str:
    return _bounded(_word(token), limit, what)


# Command parsers: the words after the command word → the command.


def _help(args: list[str]) -> Command:
    return Help(topic=_command(args[0]) if args else None)


def _declare(args: list[str]) -> Command:
    if len(args) < 2:
        raise _Problem()
    return Declare(severity=_severity(args[0]), title=_bounded(" ".join(args[1:]), MAX_TITLE, "the title"))


def _drill(args: list[str]) -> Command:
    declared = _declare(args)
    assert isinstance(declared, Declare)
    return Drill(severity=declared.severity, title=declared.title)


def _set_severity(args: list[str]) -> Command:
    if len(args) < 2:
        raise _Problem()
    return SetSeverity(incident_id=_incident_id(args), severity=_severity(args[1]))


def _assign_role(args: list[str]) -> Command:
    if len(args) < 3:
        raise _Problem()
    return AssignRole(incident_id=_incident_id(args), role=_role(args[1]), person=_person(args[2:]))


def _handoff(args: list[str]) -> Command:
    return Handoff(incident_id=_incident_id(args), person=_person(args[1:]))


def _update(args: list[str]) -> Command:
    incident_id = _incident_id(args)
    status = _word(args[1]) if len(args) > 1 else None
    if status not in UPDATE_STATUSES:
        status = None
    text = " ".join(args[2:] if status else args[1:])
    if not text:
        raise _Problem()
    return Update(incident_id=incident_id, status=status, text=text, next_update_minutes=_next_update_minutes(text))


def _resolve(args: list[str]) -> Command:
    return Resolve(incident_id=_incident_id(args), summary=" ".join(args[1:]) or None)


def _start_review(args: list[str]) -> Command:
    return StartReview(incident_id=_incident_id(args), person=_person(args[1:]) if len(args) > 1 else None)


def _milestone(args: list[str]) -> Command:
    if len(args) < 3 or _word(args[1]) not in MILESTONES:
        raise _Problem()
    return Milestone(incident_id=_incident_id(args), name=_word(args[1]), at=_instant(" ".join(args[2:])))


def _release(args: list[str]) -> Command:
    if len(args) < 2:
        raise _Problem()
    person = _person(args[2:]) if len(args) > 2 else None
    return ReleaseRole(incident_id=_incident_id(args), role=_role(args[1]), person=person)


def _component_status(args: list[str]) -> Command:
    if len(args) < 3 or _word(args[1]) not in COMPONENT_STATUSES:
        raise _Problem()
    component = _bounded(" ".join(args[2:]), MAX_TITLE, "the component")
    return SetComponentStatus(_incident_id(args), component, COMPONENT_STATUSES[_word(args[1])])


def _page(args: list[str]) -> Command:
    # The id comes last, so a person's full name needs no quotes: page Alex Kim INC-7.
    if len(args) < 2:
        raise _Problem()
    return Page(incident_id=_incident_id(args[-1:]), target=_person(args[:-1]))


def _oncall(args: list[str]) -> Command:
    return OnCall(_name(args[0], MAX_ROSTER, "the roster") if args else None)


def _override(args: list[str]) -> Command:
    if len(args) < 4:
        raise _Problem()
    roster = _name(args[0], MAX_ROSTER, "the roster")
    return SetOverride(roster, _person(args[1:-2]), _when(args[-2]), _when(args[-1]))


def _maintenance(args: list[str]) -> Command:
    if args and _word(args[0]) == "list":
        return ListMaintenances()
    if args and _word(args[0]) == "cancel":
        match = _MAINTENANCE_ID.fullmatch(_word(args[1])) if len(args) == 2 else None
        if match is None:
            raise _Problem()
        return CancelMaintenance(f"MNT-{int(match.group(1))}")
    if len(args) < 4:
        raise _Problem()
    services = tuple(name.strip() for name in args[0].split(",") if name.strip())
    if not services or len(services) > MAX_SERVICES:
        raise _Problem()
    text = _bounded(" ".join(args[3:]), MAX_TITLE, "the public words")
    return ScheduleMaintenance(services, _when(args[1]), _when(args[2]), text)


def _follow_up(args: list[str]) -> Command:
    if len(args) < 2:
        raise _Problem()
    incident_id = _incident_id(args)
    words: list[str] = []
    clauses: dict[str, list[str]] = {}
    current: list[str] = words
    for token in args[1:]:
        keyword = next((k for k in (OWNER_CLAUSE, DUE_CLAUSE) if token.lower().startswith(k)), None)
        if keyword is None:
            current.append(token)
            continue
        if keyword in clauses:
            raise _Problem(f"{keyword} once: action INC-7 alert on queue depth owner: Alex Kim due: in 3d")
        current = clauses[keyword] = [token[len(keyword) :]] if token[len(keyword) :] else []
    if not words:
        raise _Problem()
    owner = None
    if OWNER_CLAUSE in clauses:
        if not clauses[OWNER_CLAUSE]:
            raise _Problem("a person after owner: — action INC-7 alert on queue depth owner: Alex Kim")
        owner = _person(clauses[OWNER_CLAUSE])
    due = _due(" ".join(clauses[DUE_CLAUSE])) if DUE_CLAUSE in clauses else None
    return FollowUp(incident_id, _bounded(" ".join(words), MAX_TITLE, "the follow-up"), owner, due)


def _due(text: str) -> date | int:
    """A date (checked against today by the rules, which know the clock) or a number of days from today."""
    word = text.strip().lower().rstrip(_TRAILING_PUNCTUATION)
    if word == "today":
        return 0
    if word == "tomorrow":
        return 1
    if _ISO_DATE.fullmatch(word):
        try:
            return date.fromisoformat(word)
        except ValueError:
            raise _Problem(f"a date that exists ({word} does not): due: 2026-12-20, due: in 3d") from None
    match = _RELATIVE_DUE.fullmatch(word)
    if match is None:
        raise _Problem(NEEDS_DUE)
    days = int(match.group(1)) * (7 if match.group(2).startswith("w") else 1)
    if days > MAX_DUE_DAYS:
        raise _Problem(f"a due date within {MAX_DUE_DAYS} days: due: in 3d, due: 2026-12-20")
    return days


def _incident_only(kind: Callable[[str], Command]) -> Callable[[list[str]], Command]:
    # Words after the id are ignored here; the caller records the whole message on the timeline anyway.
    return lambda args: kind(_incident_id(args))


def _incident_and_text(kind: Callable[[str, str], Command]) -> Callable[[list[str]], Command]:
    def parse(args: list[str]) -> Command:
        if len(args) < 2:
            raise _Problem()
        return kind(_incident_id(args), " ".join(args[1:]))

    return parse


_PARSERS: dict[str, Callable[[list[str]], Command]] = {
    "help": _help,
    "declare": _declare,
    "drill": _drill,
    "list": lambda _args: ListIncidents(),
    "status": _incident_only(Status),
    "ack": _incident_only(Ack),
    "sev": _set_severity,
    "role": _assign_role,
    "handoff": _handoff,
    "update": _update,
    "note": _incident_and_text(Note),
    "resolve": _resolve,
    "reopen": _incident_only(Reopen),
    "postmortem": _start_review,
    "close": _incident_only(Close),
    "timeline": _incident_only(Timeline),
    "action": _follow_up,
    "milestone": _milestone,
    "release": _release,
    "component": _component_status,
    "page": _page,
    "channel": _incident_only(AskChannel),
    "oncall": _oncall,
    "test-page": lambda args: SendTestPage(_person(args)),
    "override": _override,
    "maintenance": _maintenance,
}
