"""The settings a status page render reads besides the store, and the fingerprint of them and of the renderer's build
that says when the whole site must be rendered again."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import NamedTuple

from shared.catalog.services import Catalog
from shared.core.settings import DEVELOPMENT_ID_KEY


class SiteSettings(NamedTuple):
    """What a render needs besides the store, read at each render (settings can change under a running app)."""

    title: str
    catalog: Catalog
    url: str
    id_key: bytes = DEVELOPMENT_ID_KEY.encode()  # keys the public incident ids (STATUS_PAGE_ID_KEY)


@functools.cache
def renderer_fingerprint() -> str:
    """Which build of the renderer and its templates wrote a page: a deployment that changes them re-renders every
    incident page once (other pages are rendered every time)."""
    package = Path(__file__).resolve().parent
    sources = [path for path in package.rglob("*") if path.is_file() and path.suffix in (".py", ".html", ".css")]
    digest = hashlib.sha256()
    for path in sorted(sources):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def site_fingerprint(settings: SiteSettings, renderer: str) -> str:
    """The renderer's build and every setting a render depends on: a change of any renders the whole site again (the
    catalog's publication policy, and which services are public under which component; not rosters or runbooks)."""
    title, catalog, url, id_key = settings
    services = [(service.id, service.component, service.public) for service in (*catalog.services, catalog.default)]
    site = repr((title, url, catalog.publication, services)).encode()
    digest = hashlib.sha256(site + b"\0" + id_key + b"\0" + renderer.encode())
    return digest.hexdigest()[:16]
