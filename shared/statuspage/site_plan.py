"""A rendered state of the status site before it is claimed: the record to claim and the files it publishes. Both
plans make one (shared.statuspage.change_plan after a change, shared.statuspage.whole_site from the whole store);
the publisher claims and publishes it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.statuspage.site import SiteFile
    from shared.statuspage.site_record import Known, SiteRecord
    from shared.statuspage.web_store import PublishedFile


@dataclass(frozen=True)
class SitePlan:
    """A rendered state before it is claimed: what it publishes."""

    record: SiteRecord  # the state to claim
    files: list[SiteFile]  # in publishing order, the index last
    subjects: Mapping[str, int]  # public id → the incident version its page shows
    lists: Mapping[date, tuple[Known, ...]]  # the month lists this state writes
    # Incident pages to withdraw once the index no longer links to them: each only while it shows its incident at an
    # older version than the one that took it off the site (None: any version, listed before the store was read).
    withdrawn: Mapping[str, int | None]
    listing: Mapping[str, PublishedFile] | None  # the whole container as listed (a whole-site render)


def incident_page(public_id: str) -> str:
    return f"incidents/{public_id}.html"
