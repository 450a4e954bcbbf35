"""Re-render the public status site and publish it to `$web` now, as the statuspage function does for a change
(shared.statuspage.publisher): the same renderer, the same ETag-guarded publish that never puts an older render over
a newer one. For after a deployment that changed the templates, or when the site looks stale."""

from __future__ import annotations

from dataclasses import dataclass

from shared.statuspage.publisher import SitePublisher
from shared.statuspage.web_store import INDEX


@dataclass(frozen=True)
class Render:
    written: int  # files this render wrote
    kept: int  # files already showing the same or a newer version (another render got there first, or unchanged)
    state: int | None  # the state version the published index shows now (ours or a newer render's)


def render_site(publisher: SitePublisher) -> Render:
    """One render of the whole site from the whole store that begins now, published (incident pages that are up to
    date are not rendered again): it also heals anything a publish after a change could have missed."""
    report = publisher.render_and_publish(whole=True)
    index = report.versions.get(INDEX)
    return Render(len(report.written), len(report.kept), index.state if index is not None else None)
