"""The review draft of an incident made by the real rules (an alert, Teams commands, an escalation page): every
figure exact — milestones with the corrected one winning, durations, cost, silences, missed promises — and the same
timeline, in any storage order, gives byte-identical Markdown and HTML."""

from __future__ import annotations

import dataclasses
import random

import pytest

from shared.catalog.services import load_catalog
from shared.oncall.people import load_directory
from shared.postmortems import render, review
from shared.postmortems.draft import build_draft
from shared.postmortems.notes import NOTES_MARKER, compose, notes_of
from shared.postmortems.policy import ReviewPolicy
from shared.readiness.summary import NotClosed
from tests.conftest import ROOT
from tests.unit.readiness.history import History, utc

CATALOG = load_catalog(ROOT / "config")
PEOPLE = load_directory(ROOT / "config")
CHECKOUT = CATALOG.service("checkout")  # 250 per outage minute
POLICY = ReviewPolicy()  # silences over 30 minutes


def checkout_outage() -> History:
    history = History.alert(7, utc("2026-11-23T10:00"))
    history.paged("Priya Raman", utc("2026-11-23T10:02"))
    history.say("ack INC-7", "Priya Raman", utc("2026-11-23T10:05"))
    history.say("role INC-7 commander Larry Brown", "Priya Raman", utc("2026-11-23T10:06"))
    history.say(
        "update INC-7 investigating Payments fail. Next update in 20 min", "Larry Brown", utc("2026-11-23T10:08")
    )
    history.say("INC-7 still digging through the logs", "Priya Raman", utc("2026-11-23T10:38"))  # 30 min: no silence
    history.say(
        "update INC-7 monitoring Payments succeed again. Next update in 30 min", "Larry Brown", utc("2026-11-23T10:45")
    )
    history.say("resolve INC-7 rolled back build 4711", "Larry Brown", utc("2026-11-23T11:20"))  # 35 min: a silence
    history.say("milestone INC-7 started 2026-11-23T09:50Z", "Larry Brown", utc("2026-11-23T11:25"))
    history.say("action INC-7 alert on the payment error rate", "Larry Brown", utc("2026-11-23T11:30"))
    history.say("postmortem INC-7 Nadia Visitor", "Larry Brown", utc("2026-11-23T11:40"))
    return history


def test_every_figure_of_the_draft_is_exact():
    history = checkout_outage()
    draft = build_draft(history.incident, history.timeline, CHECKOUT, PEOPLE, POLICY)
    assert [(m.name, m.at, m.corrected) for m in draft.milestones] == [
        ("started", utc("2026-11-23T09:50"), True),
        ("detected", utc("2026-11-23T10:00"), False),
        ("declared", utc("2026-11-23T10:00"), False),
        ("acknowledged", utc("2026-11-23T10:05"), False),
        ("mitigated", utc("2026-11-23T10:45"), False),
        ("resolved", utc("2026-11-23T11:20"), False),
    ]
    assert draft.durations == (("detect", 600.0), ("acknowledge", 300.0), ("mitigate", 3300.0), ("resolve", 5400.0))
    assert (draft.outage_minutes, draft.cost_per_minute, draft.cost) == (55.0, 250.0, 13_750.0)
    assert [(s.start, s.end, s.minutes) for s in draft.silences] == [
        (utc("2026-11-23T10:45"), utc("2026-11-23T11:20"), 35.0)
    ]
    assert [(p.update.at, p.due, p.kept_by) for p in draft.missed_promises] == [
        (utc("2026-11-23T10:08"), utc("2026-11-23T10:28"), utc("2026-11-23T10:45")),
        (utc("2026-11-23T10:45"), utc("2026-11-23T11:15"), utc("2026-11-23T11:20")),
    ]
    assert [(p.person, p.at) for p in draft.pages] == [("Priya Raman", utc("2026-11-23T10:02"))]
    assert draft.acknowledgements == (("Priya Raman", utc("2026-11-23T10:05")),)
    assert [(h.at, h.role, h.what) for h in draft.roles] == [
        (utc("2026-11-23T10:06"), "Incident commander", "Larry Brown (by Priya Raman)")
    ]
    assert [(a.text, a.owner, a.due, a.url) for a in draft.actions] == [
        ("alert on the payment error rate", "Larry Brown", "", "")
    ]
    assert (draft.facilitator, draft.facilitator_took_part, draft.status) == ("Nadia Visitor", False, "postmortem")
    assert [entry.at for entry in draft.entries] == sorted(event.at for event in history.timeline)


def test_the_markdown_says_each_figure_and_flags_each_silence_and_missed_promise():
    history = checkout_outage()
    text = render.markdown(build_draft(history.incident, history.timeline, CHECKOUT, PEOPLE, POLICY))
    lines = text.splitlines()
    for expected in (
        "| Started | 2026-11-23 09:50:00 UTC (corrected) |",
        "| Mitigated | 2026-11-23 10:45:00 UTC |",
        "| Time to detect | 10 min 00 s |",
        "| Time to acknowledge | 5 min 00 s |",
        "| Time to mitigate | 55 min 00 s |",
        "| Time to resolve | 1 h 30 min 00 s |",
        "55.0 outage minutes × 250.00 per minute = **13,750.00**",
        "Silences longer than the review policy's gap: 1. Missed promises of a next public update: 2.",
        "- ⚠ **Silence**: 35.0 min without any event (2026-11-23 10:45:00 UTC – 2026-11-23 11:20:00 UTC)",
        "| Facilitator | Nadia Visitor |",
    ):
        assert expected in lines, expected
    flagged = [line for line in lines if " ⚠ **Missed promise**" in line]
    assert [line.split(" ⚠ ")[1] for line in flagged] == [
        "**Missed promise**: next update promised by 2026-11-23 10:28:00 UTC, came 2026-11-23 10:45:00 UTC",
        "**Missed promise**: next update promised by 2026-11-23 11:15:00 UTC, came 2026-11-23 11:20:00 UTC",
    ]
    assert text.startswith("<!-- firebell:draft INC-7 basis ")
    assert text.endswith(NOTES_MARKER + "\n")


def test_the_same_timeline_in_any_storage_order_gives_byte_identical_markdown_and_html():
    history = checkout_outage()
    shuffled = list(history.timeline)
    random.Random(4).shuffle(shuffled)
    first = build_draft(history.incident, history.timeline, CHECKOUT, PEOPLE, POLICY)
    second = build_draft(history.incident, shuffled, CHECKOUT, PEOPLE, POLICY)
    assert render.markdown(first).encode() == render.markdown(second).encode()
    assert render.html(first, "notes").encode() == render.html(second, "notes").encode()


def test_a_facilitator_who_took_part_in_the_response_is_warned_about_and_the_draft_says_so():
    history = checkout_outage()
    before = [e for e in history.timeline if e.data.get("to") != "postmortem"]
    resolved = dataclasses.replace(history.incident, status="resolved")
    changed, text, data, warning = review.start(resolved, before, "Priya Raman", "Larry Brown", utc("2026-11-23T11:40"))
    assert data == {
        "from": "resolved",
        "to": "postmortem",
        "facilitator": "Priya Raman",
        "took_part": ["paged", "acknowledged", "acted on the incident"],
    }
    assert warning == (
        "Priya Raman took part in the response (paged, acknowledged, acted on the incident); a blameless review is "
        "best facilitated by someone who was not"
    )
    assert text == f"Larry Brown started the post-incident review, facilitated by Priya Raman (warning: {warning})"
    event = dataclasses.replace(history.timeline[-1], text=text, data=data)
    draft = build_draft(changed, [*before, event], CHECKOUT, PEOPLE, POLICY)
    assert "| Facilitator | Priya Raman (took part in the response) |" in render.markdown(draft).splitlines()
    assert review.took_part("Nadia Visitor", resolved, before) == []


def test_words_from_people_and_alerts_are_inert_in_markdown_and_escaped_in_html():
    history = checkout_outage()
    history.incident = dataclasses.replace(history.incident, title="<script>x</script> [click](javascript:alert(1))")
    draft = build_draft(history.incident, history.timeline, CHECKOUT, PEOPLE, POLICY)
    assert "# INC-7 post-incident review: \\<script\\>x\\</script\\> \\[click\\](javascript:alert(1))" in (
        render.markdown(draft).splitlines()
    )
    page = render.html(draft, "<b>our notes</b>")
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<pre>&lt;b&gt;our notes&lt;/b&gt;</pre>" in page


def test_an_open_incident_has_no_draft():
    history = History.alert(8, utc("2026-11-23T10:00"))
    with pytest.raises(NotClosed):
        build_draft(history.incident, history.timeline, CHECKOUT, PEOPLE, POLICY)


def test_a_redraft_keeps_the_notes_below_the_marker_and_a_document_without_the_marker_whole():
    generated = "# draft v2\n" + NOTES_MARKER + "\n"
    assert notes_of(None, "\n## prompts\n") == "\n## prompts\n"
    edited = "# draft v1\n" + NOTES_MARKER + "\n\n## Contributing factors\n- a retry storm\n"
    assert compose(generated, notes_of(edited, "unused")) == (
        "# draft v2\n" + NOTES_MARKER + "\n\n## Contributing factors\n- a retry storm\n"
    )
    rewritten = "someone replaced everything\n"
    assert compose(generated, notes_of(rewritten, "unused")).endswith(NOTES_MARKER + "\n\n" + rewritten)


def test_the_cost_line_prints_minutes_precisely_enough_that_its_product_is_the_printed_cost():
    history = History.alert(7, utc("2026-11-23T10:00"))
    history.say("milestone INC-7 started 2026-11-23T09:50Z", "Larry Brown", utc("2026-11-23T10:01"))
    history.say("resolve INC-7 rolled back build 4711", "Larry Brown", utc("2026-11-23T10:45:29"))
    draft = build_draft(history.incident, history.timeline, CHECKOUT, PEOPLE, POLICY)
    lines = render.markdown(draft).splitlines()
    # 55 min 29 s = 55.4833… minutes; "55.5 × 250.00" would print 13,875.00 beside a cost of 13,870.83.
    assert "55.4833 outage minutes × 250.00 per minute = **13,870.83**" in lines
