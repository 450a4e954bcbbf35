"""The next state after a change, planned from the site's record: it reads only the month lists and timelines the
change touches, and the files about everything are those a whole-site render of the same store writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from shared.catalog.services import Service
from shared.incidents.incident import Incident
from shared.incidents.timeline import TimelineEvent
from shared.statuspage.change_plan import plan_changes
from shared.statuspage.site_plan import SitePlan, incident_page
from shared.statuspage.site_record import Known, month_of
from shared.statuspage.site_settings import SiteSettings
from shared.statuspage.whole_site import plan_whole_site
from tests.unit.statuspage.ids import pid
from tests.unit.statuspage.test_site_record import CATALOG, NOW, about_everything, history, incident

# Vault is internal: an incident moved to it leaves the public site.
SETTINGS = SiteSettings(
    "Status", replace(CATALOG, services=(*CATALOG.services, Service("vault", "Vault", public=False))), ""
)
LATER = NOW + timedelta(hours=1)
# Long before the rest of the history, alone in its month, on a component later incidents touched: no window of
# the page reaches it, so only its month's list knows it.
OLD = incident(203, NOW - timedelta(days=900))
OLD_MONTH = month_of(OLD.declared_at)


def whole_site(incidents: list[Incident], read_at=NOW) -> SitePlan:
    return plan_whole_site(
        None,
        SETTINGS,
        read_at,
        fingerprint="f1",
        renderer="r1",
        known={},
        incidents=incidents,
        maintenances=(),
        listed_months=set(),
        timeline=lambda ident, version: [],
    )


class Reads:
    """What a plan asked for: the timelines and month lists of the published state (`before`)."""

    def __init__(self, before: SitePlan) -> None:
        self.before = before
        self.timelines: list[tuple[str, int]] = []
        self.months: set[date] = set()

    def timeline(self, ident: str, version: int) -> list[TimelineEvent]:
        self.timelines.append((ident, version))
        return []

    def listed(self, month: date) -> dict[str, Known]:
        self.months.add(month)
        return {k.ident: k for k in self.before.lists.get(month, ())}


def changed(before: SitePlan, stored: list[Incident], settled: list[Incident]) -> tuple[SitePlan, Reads]:
    """The plan after `settled` changed, as the publisher reads: the open incidents, and those settled since."""
    reads = Reads(before)
    fresh = {i.id: i for i in [*(i for i in stored if i.is_open), *settled]}
    record = replace(before.record, published=True)
    plan = plan_changes(record, SETTINGS, LATER, fresh, (), timeline=reads.timeline, listed=reads.listed)
    return plan, reads


def opened(incidents: list[Incident]) -> list[tuple[str, int]]:
    """The timelines every render reads: those of the open incidents (their words and spans run to now)."""
    return [(i.id, i.version) for i in incidents if i.is_open]


def test_a_withdrawn_incident_leaves_its_month_page_and_stays_on_its_list_without_public_words():
    incidents = [*history(), OLD]
    before = whole_site(incidents)
    assert OLD_MONTH in before.record.months and "INC-203" not in {k.ident for k in before.record.incidents}
    withdrawn = replace(OLD, service="vault", version=OLD.version + 1)

    plan, reads = changed(before, incidents, [withdrawn])

    assert plan.withdrawn == {incident_page(pid("INC-203")): OLD.version + 1}
    assert plan.lists == {OLD_MONTH: (Known.of(withdrawn, None),)}
    month_page = f"history/{OLD_MONTH:%Y-%m}.html"
    pages = {f.path: f.body for f in plan.files if f.path.startswith(("incidents/", "history/"))}
    assert list(pages) == [month_page] and pid("INC-203").encode() not in pages[month_page]
    assert plan.subjects == {} and OLD_MONTH not in plan.record.months
    # The page's creation time moves to the oldest incident left, found in the earliest month that has a page.
    assert reads.timelines == opened(incidents) and reads.months == {OLD_MONTH, min(plan.record.months)}
    after = whole_site([withdrawn if i is OLD else i for i in incidents], LATER)  # the same store, from scratch
    assert plan.record.oldest == after.record.oldest
    assert plan.record.months == after.record.months
    assert about_everything(plan.files) == about_everything(after.files)


def test_a_change_of_an_old_incident_renders_its_page_and_its_month_page_and_nothing_already_shown():
    incidents = [*history(), OLD]
    before = whole_site(incidents)
    updated = replace(OLD, version=OLD.version + 1, updated_at=NOW)
    shown = next(i for i in incidents if i.id == "INC-150")  # a settled row for an incident shown at its version

    plan, reads = changed(before, incidents, [updated, shown])

    assert plan.subjects == {pid("INC-203"): OLD.version + 1}
    pages = sorted(f.path for f in plan.files if f.path.startswith(("incidents/", "history/")))
    assert pages == [f"history/{OLD_MONTH:%Y-%m}.html", incident_page(pid("INC-203"))]
    assert reads.timelines == [*opened(incidents), ("INC-203", OLD.version + 1)] and reads.months == {OLD_MONTH}
    assert [k.ident for k in plan.record.pending] == ["INC-203"]
    assert [k.ident for k in plan.record.incidents] == [k.ident for k in before.record.incidents]  # still outside
    assert plan.withdrawn == {} and plan.record.state == before.record.state + 1
