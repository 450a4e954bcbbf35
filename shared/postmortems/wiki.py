"""Review drafts published to the Azure DevOps wiki of the Boards project, through the azure-devops SDK: one page per
incident (`/Post-incident reviews/INC-7`), created or updated, idempotent. The only module that talks to the wiki.

A page is a review document like the blob's (shared.postmortems.notes): the generated sections above the notes
marker are Firebell's, what people write below it on the wiki is theirs. Every update names the page version it read
(If-Match: the page's ETag), so an edit saved meanwhile makes the update fail (412) and the draft is composed again
around it; a page created meanwhile by another delivery (409) is read and updated instead — never two pages. An
older draft (the basis in the page's first line) never replaces a newer one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shared.core.contention import attempts
from shared.postmortems.notes import compose, notes_of
from shared.workitems.boards import Boards, BoardsRejected, BoardsUnavailable

FOLDER = "/Post-incident reviews"
_BASIS = re.compile(r"\A<!-- firebell:draft \S+ basis (\d+)/(\d+) -->")
_CONFLICT = (409, 412)  # created meanwhile (no If-Match) · changed since it was read (If-Match)
_TRIES = 10


@dataclass(frozen=True)
class Page:
    content: str
    etag: str
    url: str


def basis_of(content: str) -> tuple[int, int]:
    match = _BASIS.match(content)
    return (int(match[1]), int(match[2])) if match else (0, 0)


class ReviewWiki:
    def __init__(self, boards: Boards) -> None:
        self.boards = boards
        self.wiki = f"{boards.project}.wiki"  # the project wiki's name

    def path(self, incident_id: str) -> str:
        return f"{FOLDER}/{incident_id}"

    def publish(self, incident_id: str, basis: tuple[int, int], generated: str, first_notes: str) -> str:
        """Create or update the incident's page; returns its web address."""
        path = self.path(incident_id)
        for _ in attempts(_TRIES):
            current = self.read(path)
            if current is not None and (basis_of(current.content) > basis):
                return current.url  # a newer draft is there
            content = compose(generated, notes_of(current.content if current else None, first_notes))
            if current is not None and current.content == content:
                return current.url
            try:
                return self._write(path, content, current)
            except BoardsRejected as refusal:
                if refusal.status in _CONFLICT:
                    continue  # someone's edit or another delivery's page landed: read it and compose again
                raise
        raise BoardsUnavailable(f"the wiki page {path} kept changing under this update; retried later")

    def read(self, path: str) -> Page | None:
        def get(client: Any) -> Any:
            return client.get_page(self.boards.project, self.wiki, path=path, include_content=True)

        try:
            response = self.boards.with_wiki(f"reading the wiki page {path}", get)
        except BoardsRejected as refusal:
            if refusal.status == 404:
                return None
            raise
        page = response.page
        return Page(page.content or "", response.eTag or "", page.remote_url or page.url or "")

    def _write(self, path: str, content: str, current: Page | None) -> str:
        from azure.devops.v7_1.wiki.models import WikiPageCreateOrUpdateParameters

        def put(client: Any) -> Any:
            return client.create_or_update_page(
                WikiPageCreateOrUpdateParameters(content=content),
                self.boards.project,
                self.wiki,
                path,
                current.etag if current is not None else None,
                comment="Firebell: review draft",
            )

        response = self.boards.with_wiki(f"writing the wiki page {path}", put)
        return response.page.remote_url or response.page.url or ""
