"""The review draft as Markdown and as HTML (Jinja2; HTML autoescaped, Markdown made inert by a filter). Pure and
deterministic: the same Draft and notes give the same bytes.

A review document is Firebell's generated sections, a marker line, and the people's notes below it — seeded with the
meeting's prompts the first time and never rewritten after: a re-draft replaces what is above the marker and keeps
what is below it (shared.postmortems.notes).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from jinja2 import Environment

from shared.catalog.severity import label
from shared.core import templates
from shared.incidents.roles import TITLES
from shared.postmortems.draft import Draft
from shared.postmortems.notes import NOTES_MARKER
from shared.teams.reply import plain

DURATION_TITLES = {
    "detect": "Time to detect",
    "acknowledge": "Time to acknowledge",
    "mitigate": "Time to mitigate",
    "resolve": "Time to resolve",
}


def markdown(draft: Draft) -> str:
    """The generated sections, ending with the notes marker line."""
    return _environment().get_template("postmortem.md.j2").render(draft=draft, marker=NOTES_MARKER)


def html(draft: Draft, notes: str) -> str:
    """The whole review as one page: the generated sections, then the people's notes as they wrote them."""
    return _environment().get_template("postmortem.html.j2").render(draft=draft, notes=notes)


def prompts(draft: Draft) -> str:
    """The people's section as first drafted: the questions the review meeting answers."""
    return _environment().get_template("notes.md.j2").render(draft=draft)


@cache
def _environment() -> Environment:
    env = templates.environment("shared.postmortems", markdown_too=True)
    env.filters.update(md=_inert, when=_when, duration=_duration, money=_money, minutes=_minutes, sev=label, role=_role)
    env.globals.update(duration_titles=DURATION_TITLES)
    return env


def _inert(text: object) -> str:
    """Words from alerts and people, on one line and inert for Markdown (no links, emphasis or HTML)."""
    return plain(" ".join(str(text).split()))


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


def _minutes(value: float) -> str:
    # Enough places that the printed product matches the printed cost ("12.0082 × 250.00 = 3,002.05", not "12.0 × …").
    shown = f"{value:.4f}".rstrip("0")
    return shown + "0" if shown.endswith(".") else shown


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _role(role: str) -> str:
    return TITLES.get(role, role)
