"""Review drafts in the private `postmortems` container: `<incident>/review.md` (the document people edit below its
notes marker) and `<incident>/review.html` (the same review as a page). Never in `$web`.

Every write is conditional on the ETag read (If-Match, or If-None-Match * for a first draft), so a person's edit that
lands while a draft is being written makes the write fail and the draft is made again around the edit; each blob's
metadata carries the basis it was drawn from (incident version, timeline length), and an older basis never replaces a
newer one — redelivered or concurrent messages cannot leave two drafts that disagree or undo a later one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from shared.core.contention import attempts
from shared.core.errors import StorageUnavailable
from shared.core.storage import StorageAccount
from shared.postmortems.notes import compose, notes_of

if TYPE_CHECKING:  # the blob SDK loads with the first draft, not at every cold start
    from azure.storage.blob import BlobClient

CONTAINER = "postmortems"
MARKDOWN, HTML = "md", "html"
CONTENT_TYPES = {MARKDOWN: "text/markdown; charset=utf-8", HTML: "text/html; charset=utf-8"}
WRITTEN, UNCHANGED, SUPERSEDED = "written", "unchanged", "superseded"


@dataclass(frozen=True)
class Stored:
    text: str
    etag: str
    basis: tuple[int, int]  # (0, 0) for a blob someone uploaded by hand without Firebell's metadata


def blob_name(incident_id: str, form: str) -> str:
    return f"{incident_id}/review.{form}"


class DraftStore:
    def __init__(self, account: StorageAccount) -> None:
        self._account = account

    def _blob(self, incident_id: str, form: str) -> BlobClient:
        return self._account.container(CONTAINER).get_blob_client(blob_name(incident_id, form))

    def read(self, incident_id: str, form: str) -> str | None:
        stored = _read(self._blob(incident_id, form))
        return stored.text if stored else None

    def save(
        self,
        incident_id: str,
        basis: tuple[int, int],
        generated: str,
        first_notes: str,
        page: Callable[[str], str],
    ) -> str:
        """Write the draft drawn from `basis`: the Markdown document (generated sections + the notes found in it, or
        `first_notes`), then the page `page(notes)`. WRITTEN when either changed, UNCHANGED when both were already
        so, SUPERSEDED when a newer draft is there."""
        document = self._blob(incident_id, MARKDOWN)
        for _ in attempts():
            current = _read(document)
            if current is not None and current.basis > basis:
                return SUPERSEDED
            notes = notes_of(current.text if current else None, first_notes)
            text = compose(generated, notes)
            try:
                wrote = _write(document, text, basis, current)
            except (ResourceModifiedError, ResourceExistsError):
                continue  # a person's edit or another draft landed since the read: draft again around it
            wrote_page = self._save_page(incident_id, basis, page(notes))
            return WRITTEN if wrote or wrote_page else UNCHANGED
        raise StorageUnavailable(f"{incident_id}: the review draft kept changing under this write; retry")

    def _save_page(self, incident_id: str, basis: tuple[int, int], text: str) -> bool:
        blob = self._blob(incident_id, HTML)
        for _ in attempts():
            current = _read(blob)
            if current is not None and current.basis > basis:
                return False
            try:
                return _write(blob, text, basis, current)
            except (ResourceModifiedError, ResourceExistsError):
                continue
        raise StorageUnavailable(f"{incident_id}: the review page kept changing under this write; retry")


def _read(blob: BlobClient) -> Stored | None:
    try:
        downloaded = blob.download_blob()
    except ResourceNotFoundError:
        return None
    metadata = downloaded.properties.metadata or {}
    try:
        basis = (int(metadata.get("version", 0)), int(metadata.get("events", 0)))
    except ValueError:
        basis = (0, 0)
    return Stored(downloaded.readall().decode("utf-8", errors="replace"), downloaded.properties.etag, basis)


def _write(blob: BlobClient, text: str, basis: tuple[int, int], current: Stored | None) -> bool:
    """Upload unless the blob already holds exactly this (same text, same basis); conditional on what was read."""
    if current is not None and current.text == text and current.basis == basis:
        return False
    from azure.storage.blob import ContentSettings

    condition = (
        {"match_condition": MatchConditions.IfMissing}
        if current is None
        else {"etag": current.etag, "match_condition": MatchConditions.IfNotModified}
    )
    form = blob.blob_name.rpartition(".")[2]
    blob.upload_blob(
        text.encode("utf-8"),
        overwrite=True,  # the condition decides: If-None-Match * or If-Match the ETag read
        content_settings=ContentSettings(content_type=CONTENT_TYPES[form]),
        metadata={"version": str(basis[0]), "events": str(basis[1])},
        **condition,
    )
    return True
