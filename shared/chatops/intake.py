"""ChatOps intake: load the incident a command names, let shared.chatops decide, save, and record.

State changes are ETag-guarded: twenty people acting on one incident at once all land on its timeline and the
incident ends consistent — on a conflict the command is decided again on the fresh state. Events are written before
the state they explain; the events of a change that lost its race, or whose save failed, are taken back.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from azure.core.exceptions import AzureError

from shared.catalog.services import Catalog
from shared.catalog.severity import label
from shared.chatops import grammar
from shared.chatops.authorization import Refuse
from shared.chatops.rules import Context, Decision, Said, decide, incident_id_of
from shared.core.contention import attempts
from shared.core.errors import StorageUnavailable
from shared.incidents.declaration import Declaration
from shared.incidents.declaration_intake import open_declared
from shared.incidents.drill import LABEL
from shared.incidents.incident import CLOSED_STATUSES, SOURCE_PERSON, STATUSES, Incident
from shared.incidents.paging import retrigger_pages
from shared.incidents.store import IncidentChanged, IncidentStore
from shared.incidents.timeline import TimelineEvent
from shared.oncall.people import Directory
from shared.postmortems.policy import ReviewPolicy
from shared.teams.activity import TeamsMessage
from shared.teams.reply import drill_reply, plain, text_reply

VERSION = "version"  # in a state-changing command's event data: the incident version its change makes
# How far before the incident's last change an unsaved command's event may be named: Teams' signed send time names
# it, trusted within 5 minutes of our clock (shared.teams.freshness), so 10 minutes covers it.
UNSAVED_WINDOW = timedelta(minutes=10)


def handle(
    command: grammar.Command,
    said: Said,
    store: IncidentStore,
    catalog: Catalog,
    site: str,
    refuse: Refuse = lambda command, incident: None,
    review: ReviewPolicy | None = None,
) -> Decision:
    """`refuse` is the authorisation policy applied to the sender: a refusal answers and changes nothing — no event,
    no change message (the sender may be anyone in the team, guests included)."""
    if isinstance(command, grammar.Declare | grammar.Drill | grammar.ListIncidents):
        refused = refuse(command, None)
        if refused:
            return Decision(text_reply(refused[:1].upper() + refused[1:]))
    if isinstance(command, grammar.Declare | grammar.Drill):
        return _declare(command, said, store, catalog)
    if isinstance(command, grammar.ListIncidents):
        return _list(store)
    ident = incident_id_of(command)
    written: list[TimelineEvent] = []  # by an attempt that lost its race
    tried: Decision | None = None  # that attempt's decision
    for _ in attempts():
        stored = store.load_incident(ident) if ident else None
        incident = stored.incident if stored else None
        refused = refuse(command, incident) if incident is not None else None
        if refused:
            reply = text_reply(f"**{incident.id}**: {refused}")  # type: ignore[union-attr]
            return Decision(drill_reply(reply, incident.drill), incident.id)  # type: ignore[union-attr]
        if (
            tried is not None
            and tried.changed is not None
            and incident is not None
            and _landed(incident, tried.changed)
        ):
            return _told(tried, incident)  # its save happened but the answer was lost: the SDK's retry met its ETag
        # A review's start reads the timeline too: whether its facilitator took part in the response.
        reads = isinstance(command, grammar.Timeline | grammar.StartReview)
        timeline = tuple(store.timeline(ident)) if ident and reads else ()
        service = catalog.service(incident.service) if incident else None
        decision = decide(command, incident, said, Context(service, site, timeline, review or ReviewPolicy()))
        if decision.changed is not None and stored is not None:
            decision = replace(decision, events=tuple(_making(event, decision.changed) for event in decision.events))
        # Events before the state they explain (their ids come from the Teams message), so a save that fails
        # leaves nothing that a retry cannot find; pages a reopening makes due are recorded with the state.
        written = store.recorded_first(decision.events, written)
        if (
            decision.changed is not None
            and stored is not None
            and not written
            and _acted_on(store, stored.incident, decision)
        ):
            # Every event of this change was on the timeline before: the same signed message again (a replay within
            # the freshness window), whose change landed. Saying it again must not undo what came after it.
            reply = f"**{stored.incident.id}**: this message was acted on already; nothing changed again."
            return _told(Decision(text_reply(reply), stored.incident.id), incident)
        if decision.changed is not None and stored is not None:
            pages = retrigger_pages(stored.incident.id, decision.events, said.at)
            try:
                store.save_incident(decision.changed, stored.etag, was_open=stored.incident.is_open, pages=pages)
            except IncidentChanged:
                tried = decision
                continue  # someone else changed it meanwhile: decide again on what they left
            except AzureError:
                if not _saved_anyway(store, decision.changed):
                    raise
            _take_back_unsaved(store, stored.incident, decision)
        return _told(decision, incident)
    raise StorageUnavailable(f"{ident} kept changing; try again")


def _told(decision: Decision, incident: Incident | None) -> Decision:
    """Every reply about a drill says DRILL, so nobody in the channel takes the exercise for an outage."""
    if incident is None or not incident.drill:
        return decision
    return replace(decision, reply=drill_reply(decision.reply, True))


def _landed(stored: Incident, saved: Incident) -> bool:
    """Whether the stored incident is the very state this command tried to save (same version, same moment)."""
    return stored.version == saved.version and stored.updated_at == saved.updated_at


def _acted_on(store: IncidentStore, incident: Incident, decision: Decision) -> bool:
    """Whether the events this change would write exist already and tell of a change that was saved: an event whose
    version the incident has not reached is left over from a save that failed, and the change may still be made."""
    earlier = store.events(incident.id, [event.event_id for event in decision.events])
    return bool(earlier) and all(int(event.data.get(VERSION, 0)) <= incident.version for event in earlier)


def _saved_anyway(store: IncidentStore, changed: Incident) -> bool:
    """After a save failed without an answer (a timeout, a dropped connection): whether it happened all the same.
    Teams does not retry, and the responder's second try would be a second command."""
    try:
        stored = store.load_incident(changed.id)
    except AzureError:
        return False
    return stored is not None and _landed(stored.incident, changed)


def _making(event: TimelineEvent, changed: Incident) -> TimelineEvent:
    """The event names the version its change makes, so an event whose change was never saved can be told."""
    return replace(event, data={**event.data, VERSION: changed.version})


def _take_back_unsaved(store: IncidentStore, before: Incident, decision: Decision) -> None:
    """A command whose save failed on storage (not on a race) leaves its events, and Teams does not retry: the
    responder says it again, a new message with new event ids. Once a change to version v+1 is saved, events that
    other commands wrote for a version v+1 of their own tell of a change that never happened: they are taken back.
    (A live command among them loses its save to this one's ETag, decides again and writes its events again.)"""
    assert decision.changed is not None
    ours = {event.event_id for event in decision.events}
    since = before.updated_at - UNSAVED_WINDOW
    unsaved = [
        (event, etag)
        for event, etag in store.events_since(before.id, since)
        if event.data.get(VERSION) == decision.changed.version and event.event_id not in ours
    ]
    store.take_back_unchanged(unsaved)


def _declare(command: grammar.Declare | grammar.Drill, said: Said, store: IncidentStore, catalog: Catalog) -> Decision:
    service = catalog.default  # a Teams declaration names no service; the support desk's API can
    declaration = Declaration(
        title=command.title,
        severity=command.severity,
        reporter=said.speaker,
        service=service.id,
        components=(service.component,),
        source=SOURCE_PERSON,
        description="",
        customer_impact="",
        detected_at=None,
        drill=isinstance(command, grammar.Drill),
    )
    declared = open_declared(declaration, f"declared-teams-{said.message_id}", store, catalog, said.sent_at or said.at)
    incident = declared.incident
    what = "drill started" if incident.drill else "declared"
    reply = (
        f"**{incident.id}** [{label(incident.severity)}] {what} by {plain(said.speaker)}: {plain(incident.title)}. "
        f"Next: `role {incident.id} commander <person>`, then `update {incident.id} …` for customers."
    )
    if incident.drill:
        reply += " A drill pages for real, but never reaches the status page or the metrics."
    # A new incident is a change: the status page and, later, notifications follow it.
    events = (declared.event,) if declared.event else ()
    answer = drill_reply(text_reply(reply), incident.drill)
    return Decision(answer, incident.id, incident if declared.created else None, events)


def _list(store: IncidentStore) -> Decision:
    open_statuses = tuple(status for status in STATUSES if status not in CLOSED_STATUSES)
    incidents = store.list_incidents(open_statuses)
    if not incidents:
        return Decision(text_reply("No open incidents."))
    lines = [
        f"- {LABEL + ' ' if i.drill else ''}**{i.id}** [{label(i.severity)}] {i.status} — {plain(i.title)} "
        f"({plain(', '.join(i.components))})"
        for i in incidents
    ]
    return Decision(text_reply(f"{len(incidents)} open incident(s):\n\n" + "\n".join(lines)))


def with_known_person(command: grammar.Command, message: TeamsMessage, people: Directory) -> grammar.Command:
    """People named in a command (a role's `person`, a follow-up's `owner`) become the people Firebell knows: a
    mention by its Teams identity, else a name or email from people.toml; anyone else keeps the name as typed."""
    for field in ("person", "owner"):
        named = getattr(command, field, None)
        if not named:
            continue
        mention = next((m for m in message.mentions if m.name.casefold() == named.casefold()), None)
        known = people.identify(mention.name, mention.teams_id, mention.aad_object_id) if mention else None
        command = replace(command, **{field: (known or people.named(named)).name})  # type: ignore[type-var]
    return command
