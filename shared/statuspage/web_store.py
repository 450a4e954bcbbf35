"""Publish rendered site files to the `$web` container, each with its own Content-Type and Cache-Control, and never
an older state over a newer one.

Every blob carries the version of what it shows in its metadata (FileVersion). Before a file is written, the
blob's current version is read; a blob that already shows the same or a newer version is kept, and the write is
conditional on the blob being exactly as read (If-Match its ETag, or If-None-Match * when absent). A writer that
loses that race reads again and decides again, so two renders racing on the same blob leave the newer one there,
whatever the interleaving.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from shared.core.contention import ATTEMPTS, attempts
from shared.core.storage import StorageAccount
from shared.core.timeutil import iso, parse_instant

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient

    from shared.statuspage.site import SiteFile

WEB_CONTAINER = "$web"
INDEX = "index.html"
# Blob metadata names (lower case: Azure keeps the case it is given, and HTTP headers do not).
_SUBJECT, _STATE, _READ_AT, _RENDERER = "subject_version", "state_version", "read_at", "renderer"


class PublishContention(Exception):
    """A blob kept changing under this writer for every attempt; the queue retries the whole publish."""


@dataclass(frozen=True, order=True)
class FileVersion:
    """How new the content of one published file is; compared field by field, in this order.

    `subject`: the version of what the file is about — the incident's own version for its page, the state version
    for files about everything (index, JSON, feeds). A page never goes back to an older state of its incident, even
    when a render that read more elsewhere but this incident earlier comes second.
    `state`: the state version the render read (it only grows: see functions/statuspage.py).
    `read_at`: when the render began reading. Same data, later clock wins: maintenance windows open and close, and
    relative wording ages, by the clock alone.
    """

    subject: int
    state: int
    read_at: datetime
    renderer: str = field(default="", compare=False)  # which build of the renderer wrote it (not an ordering)

    def metadata(self) -> dict[str, str]:
        return {
            _SUBJECT: str(self.subject),
            _STATE: str(self.state),
            _READ_AT: iso(self.read_at),
            _RENDERER: self.renderer,
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str] | None) -> FileVersion | None:
        """None for a blob without (valid) version metadata: written before versions existed, or by hand."""
        values = {name.lower(): value for name, value in (metadata or {}).items()}
        try:
            return cls(
                subject=int(values[_SUBJECT]),
                state=int(values[_STATE]),
                read_at=parse_instant(values[_READ_AT]),
                renderer=values.get(_RENDERER, ""),
            )
        except (KeyError, ValueError):
            return None


@dataclass(frozen=True)
class PublishedFile:
    """A blob as last read: its ETag (the condition of the next write) and the version it shows."""

    path: str
    etag: str
    version: FileVersion | None


@dataclass(frozen=True)
class PublishReport:
    written: tuple[str, ...]  # files this publish wrote
    kept: tuple[str, ...]  # files that already showed the same or a newer version (or an immutable asset)
    versions: Mapping[str, FileVersion | None]  # what each path shows after this publish: ours or a newer one
    files: Mapping[str, PublishedFile] = field(default_factory=dict)  # each path as this publish last saw it


def published_files(account: StorageAccount) -> dict[str, PublishedFile]:
    """Every blob of the site with its ETag and version: one listing (5,000 blobs a page) instead of a read per
    file, so a render can tell which incident pages are behind the store without opening them."""
    container = account.container(WEB_CONTAINER)
    return {
        blob.name: PublishedFile(blob.name, blob.etag, FileVersion.from_metadata(blob.metadata))
        for blob in container.list_blobs(include=["metadata"])
    }


def published_file(account: StorageAccount, path: str) -> PublishedFile | None:
    return _current(account.container(WEB_CONTAINER).get_blob_client(path))


def publish(
    account: StorageAccount,
    files: Sequence[SiteFile],
    version_of: Callable[[SiteFile], FileVersion],
    known: Mapping[str, PublishedFile] | None = None,
    on_checked: Callable[[str], None] | None = None,
    *,
    listed: bool = True,
) -> PublishReport:
    """Upload in the given order, so `index.html` (last) never links to a page that is not there yet.

    `known`: the container as listed before rendering (a path missing from it was absent, unless `listed` is False:
    then it is read); without it each blob is read before it is written. `on_checked` runs after a blob's current
    version was read and before the conditional write — the window in which another render may publish (tests hold
    it open to prove the outcome).
    """
    container = account.container(WEB_CONTAINER)
    written: list[str] = []
    kept: list[str] = []
    versions: dict[str, FileVersion | None] = {}
    seen: dict[str, PublishedFile] = {}
    for site_file in files:
        blob = container.get_blob_client(site_file.path)
        mine = version_of(site_file)
        if known is not None and (listed or site_file.path in known):
            current = known.get(site_file.path)
        else:
            current = _current(blob)
        for _attempt in attempts():
            if current is not None and (_immutable(site_file) or _at_least(current.version, mine)):
                kept.append(site_file.path)
                versions[site_file.path] = current.version
                seen[site_file.path] = current
                break
            if on_checked is not None:
                on_checked(site_file.path)
            try:
                etag = _upload(blob, site_file, mine, current)
            except (ResourceExistsError, ResourceModifiedError):
                current = _current(blob)  # another render wrote it since we read it: decide again on what is there
                continue
            written.append(site_file.path)
            versions[site_file.path] = mine
            seen[site_file.path] = PublishedFile(site_file.path, etag, mine)
            break
        else:
            raise PublishContention(f"{site_file.path} changed under every one of {ATTEMPTS} attempts")
    return PublishReport(tuple(written), tuple(kept), versions, seen)


def withdraw(account: StorageAccount, files: Iterable[PublishedFile]) -> tuple[str, ...]:
    """Delete blobs that must no longer be public (an incident the publication policy no longer shows, a page under
    an `INC-n` name from before public ids), each only if it is still the blob that was listed (If-Match its ETag):
    a render that has written it since decided on newer data, and keeps it. Returns the paths deleted."""
    container = account.container(WEB_CONTAINER)
    deleted = []
    for published in files:
        try:
            container.get_blob_client(published.path).delete_blob(
                etag=published.etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            continue
        deleted.append(published.path)
    return tuple(deleted)


def _immutable(site_file: SiteFile) -> bool:
    # Content-hashed assets: the same name is the same bytes, so an existing one is never written again.
    return "immutable" in site_file.cache_control


def _at_least(published: FileVersion | None, mine: FileVersion) -> bool:
    return published is not None and published >= mine


def _current(blob: BlobClient) -> PublishedFile | None:
    try:
        properties = blob.get_blob_properties()
    except ResourceNotFoundError:
        return None
    return PublishedFile(blob.blob_name, properties.etag, FileVersion.from_metadata(properties.metadata))


def _upload(blob: BlobClient, site_file: SiteFile, version: FileVersion, current: PublishedFile | None) -> str:
    from azure.storage.blob import ContentSettings  # loaded with the first publish, not at every cold start

    condition = (
        {"match_condition": MatchConditions.IfMissing}
        if current is None
        else {"etag": current.etag, "match_condition": MatchConditions.IfNotModified}
    )
    return blob.upload_blob(
        site_file.body,
        overwrite=True,  # the condition above decides: If-None-Match * or If-Match the ETag read
        content_settings=ContentSettings(content_type=site_file.content_type, cache_control=site_file.cache_control),
        metadata=version.metadata(),
        **condition,
    )["etag"]
