"""Status page coalescing: bursts of 1,000 `statuspage` change messages through the devhost into Azurite.

Each burst interleaves ten real incident changes (public updates, the last one resolves) with the messages, as the
HTTP functions enqueue them. Prints renders per burst, time until the queue is drained, and how long after the last
change the published index showed the final state; checks that it did (exits non-zero otherwise).
Two shapes: a flood (8 senders, as fast as Azurite takes them) and a paced burst (200 messages/s).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.figures import report
from devhost.azurite import ROOT, Azurite, free_port
from shared.catalog.services import load_catalog
from shared.core import storage
from shared.core.contention import attempts
from shared.core.queues import STATUSPAGE
from shared.core.timeutil import utc_now
from shared.incidents.changes import change_message
from shared.incidents.declaration import parse_declaration
from shared.incidents.declaration_intake import open_declared
from shared.incidents.store import IncidentChanged, IncidentStore
from shared.incidents.timeline import PUBLIC_UPDATE, TimelineEvent, event_id
from shared.statuspage.record_store import read_record
from shared.statuspage.web_store import INDEX, published_file

MESSAGES = int(os.environ.get("BENCH_STATUS_MESSAGES", "1000"))
CHANGES = 10
SENDERS = 8
PACED_RATE = 200.0  # messages/s


@dataclass(frozen=True)
class Burst:
    renders: int
    drained_seconds: float  # first message sent → queue empty
    final_after_seconds: float  # last change stored → published index shows it
    final_shown: bool


def post_update(store: IncidentStore, ident: str, words: str, resolve: bool) -> int:
    """A public update as ChatOps posts it; returns the incident's new version."""
    for _ in attempts():
        now = utc_now()
        stored = store.load_incident(ident)
        assert stored is not None
        status = "resolved" if resolve else "monitoring"
        changed = stored.incident.changed(
            now, status=status, latest_update=words, latest_update_at=now, **({"resolved_at": now} if resolve else {})
        )
        try:
            store.save_incident(changed, stored.etag, was_open=stored.incident.is_open)
        except IncidentChanged:
            continue
        data = {"status": status, "public_text": words}
        store.append_event(
            TimelineEvent(
                incident_id=ident,
                event_id=event_id(now, f"update-{changed.version}"),
                kind=PUBLIC_UPDATE,
                at=now,
                recorded_at=now,
                actor="bench",
                source="teams",
                text=words,
                public=True,
                data=data,
            )
        )
        return changed.version
    raise RuntimeError("the incident kept changing")


def _shows(account: storage.StorageAccount, ident: str, version: int) -> bool:
    """Whether the published site shows the incident at `version` at least: a published state of the site's record
    holds it so, and the index shows that state or a newer one."""
    record, _etag = read_record(account)
    if record is None or not record.published:
        return False
    if not any(k.ident == ident and k.version >= version for k in record.incidents):
        return False
    index = published_file(account, INDEX)
    return index is not None and index.version is not None and index.version.state >= record.state


def run_burst(account: storage.StorageAccount, ident: str, send: Callable[[list[str]], None]) -> Burst:
    from functions import context

    store = IncidentStore(account)
    queue = account.queue(STATUSPAGE)
    publisher = context.site_publisher()
    before = publisher.renders
    per_round = MESSAGES // CHANGES
    started = time.perf_counter()
    last_change = started
    for number in range(CHANGES):
        post_update(store, ident, f"Update {number + 1} of {CHANGES}", resolve=number == CHANGES - 1)
        last_change = time.perf_counter()
        send([change_message(ident, [f"bench-{number}-{n}"]) for n in range(per_round)])
    final = store.get_incident(ident)
    assert final is not None
    shown_at = None
    drained_at = None
    deadline = time.perf_counter() + 300
    while time.perf_counter() < deadline and (shown_at is None or drained_at is None):
        now = time.perf_counter()
        if shown_at is None and _shows(account, ident, final.version):
            shown_at = now
        if drained_at is None and queue.get_queue_properties().approximate_message_count == 0:
            drained_at = now
        time.sleep(0.05)
    return Burst(
        renders=publisher.renders - before,
        drained_seconds=(drained_at or float("nan")) - started,
        final_after_seconds=(shown_at or float("nan")) - last_change,
        final_shown=shown_at is not None,
    )


def main() -> None:
    import logging

    logging.getLogger("devhost").setLevel(logging.WARNING)
    with Azurite() as azurite:
        os.environ.update(
            AzureWebJobsStorage=azurite.connection_string,
            FIREBELL_CONFIG_DIR=str(ROOT / "config"),
            STATUS_PAGE_TITLE="Bench Status",
        )
        import function_app
        from devhost.host import DevHost

        account = storage.account()
        catalog = load_catalog(ROOT / "config")
        store = IncidentStore(account)
        queue = account.queue(STATUSPAGE)

        def flood(messages: list[str]) -> None:
            with ThreadPoolExecutor(SENDERS) as senders:
                list(senders.map(queue.send_message, messages))

        def paced(messages: list[str]) -> None:
            start = time.perf_counter()
            for number, message in enumerate(messages):
                pause = start + number / PACED_RATE - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                queue.send_message(message)

        host = DevHost(function_app.app, ROOT / "host.json", port=free_port()).start()
        try:
            results = {}
            for name, send in (("flood (8 senders)", flood), (f"paced ({PACED_RATE:.0f} messages/s)", paced)):
                now = utc_now()
                fields = {"title": "Bench", "severity": 2, "reporter": "bench", "service": "checkout"}
                incident = open_declared(parse_declaration(fields, catalog, now), None, store, catalog, now).incident
                results[name] = run_burst(account, incident.id, send)
        finally:
            host.stop()

    rows = []
    for name, burst in results.items():
        rows.append(
            (
                name,
                f"{burst.renders} renders per {MESSAGES:,} messages; drained in {burst.drained_seconds:.1f} s; "
                f"final state published {burst.final_after_seconds:.1f} s after the last change",
            )
        )
    report(f"Status page: renders per {MESSAGES:,}-event burst ({CHANGES} incident changes interleaved)", rows)
    failed = [name for name, burst in results.items() if not burst.final_shown]
    if failed:
        raise SystemExit(f"status_burst: the final state was never published for {', '.join(failed)}")


if __name__ == "__main__":
    main()
