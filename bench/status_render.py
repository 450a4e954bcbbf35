"""Status page rendering: the whole static site (HTML, JSON API, feeds) from 1,000 and 10,000 incidents of history.

Pure render, no storage: the incidents, their timelines and the maintenances are built in memory first; a figure is
`status_page(...)` + `render_site(...)`: with every incident page (a cold publish, an instance's first), and with one
changed incident (what each later publish renders). The issue's target is < 50 ms for 1,000 incidents. Also prints
the gzipped weight of the pages a visitor loads.
"""

from __future__ import annotations

import gzip
import random
import time
from datetime import UTC, datetime, timedelta

from bench.figures import median, report
from shared.catalog.publication import DECLARED, PublicationPolicy
from shared.catalog.services import Catalog, Service
from shared.core.settings import DEVELOPMENT_ID_KEY
from shared.incidents.incident import Incident
from shared.incidents.timeline import NOTE, PUBLIC_UPDATE, TimelineEvent
from shared.statuspage.maintenance import Maintenance
from shared.statuspage.public_ids import public_id
from shared.statuspage.public_view import status_page, timelines_needed
from shared.statuspage.site import SiteFile, forget_formatted_times, render_site

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
TITLE, URL = "Acme Status", "https://status.example.com"
COMPONENTS = ("Checkout", "Search", "Login", "API", "Webhooks", "Notifications", "Dashboard")
# Every incident of the history on the page (the publication policy would hide unacknowledged ones; the figure is
# about rendering them).
CATALOG = Catalog(
    services=tuple(Service(name.lower(), name) for name in COMPONENTS),
    default=Service("default", "Other services"),
    publication=PublicationPolicy(dict.fromkeys(range(1, 5), DECLARED)),
)
SIZES = (1_000, 10_000)
RUNS = {1_000: 15, 10_000: 5}
WORDS = "We have identified elevated error rates for card payments in Europe and are rolling back the latest release."


def history(count: int, seed: int = 5) -> tuple[list[Incident], dict[str, list[TimelineEvent]], list[Maintenance]]:
    """`count` incidents, one every ~9 hours back from NOW (the last two still open), each with three public updates
    and two internal notes on its timeline; a maintenance in progress and one upcoming."""
    rng = random.Random(seed)
    incidents, timelines = [], {}
    for number in range(1, count + 1):
        declared = NOW - timedelta(hours=9 * (count - number) + 3)
        open_ = number > count - 2
        incident = Incident(
            id=f"INC-{number}",
            number=number,
            title="cpu-high on /subscriptions/123/vm-7",
            service="checkout",
            components=tuple(rng.sample(COMPONENTS, rng.randint(1, 2))),
            severity=rng.randint(1, 4),
            status="identified" if open_ else "resolved",
            source="monitoring",
            source_detail="Azure Monitor",
            detected_at=declared,
            declared_at=declared,
            updated_at=declared + timedelta(minutes=95),
            resolved_at=None if open_ else declared + timedelta(minutes=rng.randint(10, 240)),
            next_update_at=NOW + timedelta(minutes=30) if open_ else None,
        )
        incidents.append(incident)
        events = []
        for step, status in enumerate(("investigating", "identified", "monitoring"), start=1):
            at = declared + timedelta(minutes=10 * step)
            events.append(TimelineEvent(incident.id, f"n{step}", NOTE, at, at, "Priya", "teams", "internal note"))
            data = {"status": status, "public_text": f"{WORDS} ({step})", "next_update_at": None}
            events.append(
                TimelineEvent(incident.id, f"u{step}", PUBLIC_UPDATE, at, at, "Priya", "teams", "", True, data)
            )
        timelines[incident.id] = events
    maintenances = [
        Maintenance(
            "MNT-1",
            "Database upgrade",
            ("Checkout",),
            NOW - timedelta(hours=1),
            NOW + timedelta(hours=1),
            NOW - timedelta(days=3),
            NOW - timedelta(days=3),
            "Upgrading the primary database.",
        ),
        Maintenance(
            "MNT-2",
            "Network maintenance",
            ("API", "Login"),
            NOW + timedelta(days=2),
            NOW + timedelta(days=2, hours=2),
            NOW - timedelta(days=1),
            NOW - timedelta(days=1),
        ),
    ]
    return incidents, timelines, maintenances


def timed(count: int) -> tuple[list[tuple[str, str]], list[SiteFile]]:
    """Three renders: the whole site as a new instance's first publish renders it (every page; the formatted-time
    cache empty), the whole site again in a warm instance, and what one change costs the publisher (every incident
    in the view, the timelines it needs, one incident page)."""
    incidents, timelines, maintenances = history(count)
    changed = [incidents[-1].id]
    needed = {ident: timelines[ident] for ident in timelines_needed(incidents, changed, NOW)}
    changed_pages = [public_id(ident, DEVELOPMENT_ID_KEY.encode()) for ident in changed]

    def cold() -> list[SiteFile]:
        forget_formatted_times()
        return warm()

    def warm() -> list[SiteFile]:
        page = status_page(TITLE, CATALOG, incidents, timelines, maintenances, NOW, URL)
        return render_site(page)

    def one_change() -> list[SiteFile]:
        page = status_page(TITLE, CATALOG, incidents, needed, maintenances, NOW, URL)
        return render_site(page, changed_pages)

    files = warm()  # templates compiled, as in any instance that has imported the renderer
    rows = []
    for name, render in (("whole site, first render", cold), ("whole site, warm", warm), ("one change", one_change)):
        samples, cpu = [], []
        for _ in range(RUNS[count]):
            started, started_cpu = time.perf_counter(), time.process_time()
            written = render()
            samples.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        # CPU time too: the machine is shared, and wall time then counts other people's work.
        rows.append(
            (
                f"{name}, {count:,} incidents",
                f"median {median(samples) * 1000:.1f} ms (CPU {median(cpu) * 1000:.1f} ms), "
                f"best {min(samples) * 1000:.1f} ms, {len(written):,} files",
            )
        )
    return rows, files


def gzipped(files: list[SiteFile], path: str) -> str:
    body = next(f.body for f in files if f.path == path)
    return f"{len(gzip.compress(body, 9)) / 1024:.1f} KB gzipped ({len(body) / 1024:.0f} KB raw)"


def main() -> None:
    rows: list[tuple[str, str]] = []
    files: list[SiteFile] = []
    for count in SIZES:
        figures, files = timed(count)
        rows += figures
    open_page = f"incidents/{public_id(f'INC-{SIZES[-1]}', DEVELOPMENT_ID_KEY.encode())}.html"
    rows += [
        ("index.html", gzipped(files, "index.html")),
        (open_page, gzipped(files, open_page)),
        ("history.html", gzipped(files, "history.html")),
        ("api/v2/summary.json", gzipped(files, "api/v2/summary.json")),
        ("stylesheet (cached a year)", gzipped(files, files[0].path)),
    ]
    report("Status page render (pure, no storage; target < 50 ms for 1,000 incidents)", rows)


if __name__ == "__main__":
    main()
