"""What people wrote in a review document, kept across re-drafts. Pure.

A review document is Firebell's generated sections ending with the notes marker line, then the people's notes. A
re-draft takes the notes from the document as it is now and puts the new generated sections above them; a document
whose marker someone deleted is kept whole below the new sections, so no edit is ever lost.
"""

from __future__ import annotations

NOTES_MARKER = "<!-- firebell:notes · everything below this line is yours: Firebell never rewrites it -->"


def notes_of(document: str | None, first: str) -> str:
    """The people's notes in `document`; `first` (the meeting's prompts) when there is no document yet."""
    if document is None:
        return first
    _head, marker, notes = document.partition(NOTES_MARKER)
    if not marker:
        return "\n" + document
    return notes[1:] if notes.startswith("\n") else notes


def compose(generated: str, notes: str) -> str:
    """The document: generated sections (ending with the marker line) and the notes below them."""
    if not generated.endswith(NOTES_MARKER + "\n"):
        raise ValueError("generated sections must end with the notes marker line")
    return generated + notes
