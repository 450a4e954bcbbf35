"""Client-side CPU of one table read through Firebell's storage account (shared.core.storage), with requests'
per-request environment look-up (proxies, CA bundle, .netrc: what the SDKs do by default) and without it (what
Firebell does when no proxy is set). An alert makes 1 to 9 such requests (README: storage operations per alert).

CPU time of this process only (Azurite's is apart), best of several blocks, the two variants alternating so that a
busy machine weighs on both alike.
"""

from __future__ import annotations

import os
import time

from bench.figures import report
from devhost.azurite import Azurite
from shared.core.storage import StorageAccount

BLOCKS = 8
READS = 200


def account(connection_string: str, *, environment_look_up: bool) -> StorageAccount:
    """An account as Firebell builds one; a NO_PROXY setting (which proxies nothing) keeps requests' look-up on."""
    saved = os.environ.pop("NO_PROXY", None)
    if environment_look_up:
        os.environ["NO_PROXY"] = "bench.invalid"
    try:
        return StorageAccount(connection_string)
    finally:
        os.environ.pop("NO_PROXY", None)
        if saved is not None:
            os.environ["NO_PROXY"] = saved


def main() -> None:
    with Azurite() as storage:
        tables = {}
        for look_up in (True, False):
            table = account(storage.connection_string, environment_look_up=look_up).table("benchreads")
            table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "value": 1})
            tables[look_up] = table
        blocks: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(BLOCKS):
            for look_up, table in tables.items():
                started = time.process_time()
                for _ in range(READS):
                    table.get_entity("p", "r")
                blocks[look_up].append((time.process_time() - started) / READS)
    with_look_up, without = min(blocks[True]), min(blocks[False])
    report(
        f"One table read, client CPU (best of {BLOCKS} blocks of {READS}; {len(os.environ)} environment variables)",
        [
            ("with requests' environment look-up", f"{with_look_up * 1000:.2f} ms"),
            ("without (no proxy set)", f"{without * 1000:.2f} ms"),
            ("saved per request", f"{(with_look_up - without) * 1000:.2f} ms ({1 - without / with_look_up:.0%})"),
        ],
    )


if __name__ == "__main__":
    main()
