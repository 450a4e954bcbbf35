"""Drafting a post-incident review from a 1,000-event timeline: the draft (milestones and durations through the
readiness summary, cost, silences, missed promises, pages, roles, actions) and its Markdown and HTML, as the
`postmortems` function makes them on every change of an incident under review. Pure, no storage. The issue's target
is a median < 100 ms.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from bench.figures import median, report
from shared.catalog.services import Service
from shared.core.timeutil import iso
from shared.incidents.incident import Incident
from shared.incidents.timeline import (
    ACKNOWLEDGED,
    ESCALATION_PAGED,
    FOLLOW_UP_ADDED,
    NOTE,
    PUBLIC_UPDATE,
    ROLE_ASSIGNED,
    STATUS_CHANGED,
    TimelineEvent,
    event_id,
)
from shared.oncall.people import Directory
from shared.postmortems import render
from shared.postmortems.draft import build_draft
from shared.postmortems.policy import ReviewPolicy

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EVENTS = 1_000
RUNS = 25
PEOPLE = ("Priya Raman", "Larry Brown", "Tim Jones", "Grace Okafor", "Aiko Tanaka")


def incident_with_timeline(count: int = EVENTS, seed: int = 16) -> tuple[Incident, list[TimelineEvent]]:
    """A day-long SEV1 with `count` events: pages, acknowledgements, roles, public updates that promise the next one
    (some late), notes at uneven intervals (some silences), follow-ups; resolved, its review started."""
    rng = random.Random(seed)
    ident = "INC-42"
    events: list[TimelineEvent] = []
    at = T0
    for n in range(count - 1):
        at += timedelta(seconds=rng.choice((20, 45, 90, 240, 600, 2400)))
        who = rng.choice(PEOPLE)
        roll = rng.random()
        if roll < 0.05:
            kind, data = ESCALATION_PAGED, {"person": who, "round": 1, "step": n % 3}
        elif roll < 0.08:
            kind, data = ACKNOWLEDGED, {"by": who}
        elif roll < 0.10:
            kind, data = ROLE_ASSIGNED, {"role": "commander", "person": who}
        elif roll < 0.25:
            promise = at + timedelta(minutes=rng.choice((15, 30)))
            kind, data = (
                PUBLIC_UPDATE,
                {"status": "identified", "public_text": "Working on it.", "next_update_at": iso(promise)},
            )
        elif roll < 0.28:
            kind, data = FOLLOW_UP_ADDED, {"text": f"follow-up {n}", "owner": who}
        else:
            kind, data = NOTE, {}
        text = f"{who}: event {n} of the response, with a sentence of ordinary length to render"
        events.append(TimelineEvent(ident, event_id(at, f"e{n}"), kind, at, at, who, "teams", text, data=data))
    resolved = at + timedelta(minutes=5)
    events.append(
        TimelineEvent(
            ident,
            event_id(resolved, "resolve"),
            STATUS_CHANGED,
            resolved,
            resolved,
            "Larry Brown",
            "teams",
            "Larry Brown resolved the incident",
            data={"from": "monitoring", "to": "resolved"},
        )
    )
    incident = Incident(
        id=ident,
        number=42,
        title="Checkout fails for card payments",
        service="checkout",
        components=("Checkout",),
        severity=1,
        status="postmortem",
        source="monitoring",
        source_detail="checkout-errors",
        detected_at=T0,
        declared_at=T0,
        updated_at=resolved,
        acknowledged_at=T0 + timedelta(minutes=4),
        mitigated_at=resolved - timedelta(minutes=30),
        resolved_at=resolved,
        roles=(("commander", "Larry Brown"),),
        version=len(events),
    )
    rng.shuffle(events)  # storage order is not time order
    return incident, events


def main() -> None:
    incident, timeline = incident_with_timeline()
    service, people, policy = Service("checkout", "Checkout", cost_per_minute=250.0), Directory(), ReviewPolicy()

    def draft_once() -> tuple[str, str]:
        draft = build_draft(incident, timeline, service, people, policy)
        return render.markdown(draft), render.html(draft, render.prompts(draft))

    markdown, page = draft_once()  # templates compiled, as in a warm instance
    samples, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        draft_once()
        samples.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    draft = build_draft(incident, timeline, service, people, policy)
    report(
        f"Review draft from a {EVENTS:,}-event timeline (pure; target median < 100 ms)",
        [
            (
                "draft + Markdown + HTML",
                f"median {median(samples) * 1000:.1f} ms (CPU {median(cpu) * 1000:.1f} ms), "
                f"best {min(samples) * 1000:.1f} ms over {RUNS} runs",
            ),
            ("flagged", f"{len(draft.silences)} silences, {len(draft.missed_promises)} missed promises"),
            ("sizes", f"Markdown {len(markdown.encode()) / 1024:.0f} KB, HTML {len(page.encode()) / 1024:.0f} KB"),
        ],
    )


if __name__ == "__main__":
    main()
