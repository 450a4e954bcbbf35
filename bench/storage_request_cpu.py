"""Client-side CPU of one table read, three ways: the SDKs' defaults (requests looks up proxies, CA bundle and .netrc
in the environment on every request), the SDKs' own session without that look-up, and Firebell's storage account
(shared.core.storage: no look-up, and StorageSession, which hands a request to the connection pool without the
cookie and settings merging of `requests.Session.request`). An alert makes 1 to 9 such requests (README: storage
operations per alert).

CPU time of this process only (Azurite's is apart), best of several blocks, the variants taking turns so that a busy
machine weighs on all alike.
"""

from __future__ import annotations

import os
import time

from azure.data.tables import TableClient, TableServiceClient

from bench.figures import report
from devhost.azurite import Azurite
from shared.core.storage import StorageAccount

BLOCKS = 8
READS = 200
TABLE = "benchreads"


def sdk_table(connection_string: str, *, environment_look_up: bool) -> TableClient:
    options = {} if environment_look_up else {"use_env_settings": False}
    return TableServiceClient.from_connection_string(connection_string, **options).get_table_client(TABLE)


def main() -> None:
    with Azurite() as storage:
        firebell = StorageAccount(storage.connection_string).table(TABLE)
        firebell.upsert_entity({"PartitionKey": "p", "RowKey": "r", "value": 1})
        tables = {
            "SDK defaults (environment look-up)": sdk_table(storage.connection_string, environment_look_up=True),
            "SDK session, no look-up": sdk_table(storage.connection_string, environment_look_up=False),
            "Firebell (StorageSession)": firebell,
        }
        blocks: dict[str, list[float]] = {name: [] for name in tables}
        for _ in range(BLOCKS):
            for name, table in tables.items():
                started = time.process_time()
                for _ in range(READS):
                    table.get_entity("p", "r")
                blocks[name].append((time.process_time() - started) / READS)
    best = {name: min(times) for name, times in blocks.items()}
    default = best["SDK defaults (environment look-up)"]
    report(
        f"One table read, client CPU (best of {BLOCKS} blocks of {READS}; {len(os.environ)} environment variables)",
        [
            (name, f"{cpu * 1000:.2f} ms" + ("" if cpu == default else f" ({1 - cpu / default:.0%} less)"))
            for name, cpu in best.items()
        ],
    )


if __name__ == "__main__":
    main()
