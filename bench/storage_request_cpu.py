"""Client-side CPU of storage requests. One table read, three ways: the SDKs' defaults (requests looks up proxies,
CA bundle and .netrc in the environment on every request), the SDKs' own session without that look-up, and
Firebell's storage account (shared.core.storage: no look-up, and StorageSession, which hands a request to the
connection pool without the cookie and settings merging of `requests.Session.request`). An alert makes 1 to 9 such
requests (README: storage operations per alert).

And one two-entity transaction (what every incident save is: the incident and its open-index copy), two ways: the
SDK's `submit_transaction` (its multipart body written and read by azure-core's email-package code) and
shared.core.table_transaction (the same operations and pipeline, the multipart text written and read directly).

CPU time of this process only (Azurite's is apart), best of several blocks, the variants taking turns so that a busy
machine weighs on all alike.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable

from azure.data.tables import TableClient, TableServiceClient

from bench.figures import report
from devhost.azurite import Azurite
from shared.core.storage import StorageAccount
from shared.core.table_transaction import submit_transaction

BLOCKS = 8
READS = 200
TABLE = "benchreads"


def sdk_table(connection_string: str, *, environment_look_up: bool) -> TableClient:
    options = {} if environment_look_up else {"use_env_settings": False}
    return TableServiceClient.from_connection_string(connection_string, **options).get_table_client(TABLE)


def best_per_call(variants: dict[str, Callable[[], object]], calls: int = READS) -> dict[str, float]:
    """Each variant's least CPU seconds per call over BLOCKS blocks, the variants taking turns block by block."""
    blocks: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(BLOCKS):
        for name, call in variants.items():
            started = time.process_time()
            for _ in range(calls):
                call()
            blocks[name].append((time.process_time() - started) / calls)
    return {name: min(times) for name, times in blocks.items()}


def compared(best: dict[str, float]) -> list[tuple[str, str]]:
    """Each variant's figure, and how much less than the first (the SDK's way) it is."""
    first = next(iter(best.values()))
    return [
        (name, f"{cpu * 1000:.2f} ms" + ("" if cpu == first else f" ({1 - cpu / first:.0%} less)"))
        for name, cpu in best.items()
    ]


def main() -> None:
    with Azurite() as storage:
        firebell = StorageAccount(storage.connection_string).table(TABLE)
        firebell.upsert_entity({"PartitionKey": "p", "RowKey": "r", "value": 1})
        tables = {
            "SDK defaults (environment look-up)": sdk_table(storage.connection_string, environment_look_up=True),
            "SDK session, no look-up": sdk_table(storage.connection_string, environment_look_up=False),
            "Firebell (StorageSession)": firebell,
        }
        reads = best_per_call({name: functools.partial(table.get_entity, "p", "r") for name, table in tables.items()})
        rows = [
            {"PartitionKey": "incident", "RowKey": key, "title": "Checkout 5xx", "severity": 2} for key in ("a", "b")
        ]
        operations = [("upsert", row) for row in rows]
        transactions = best_per_call(
            {
                "SDK submit_transaction": functools.partial(firebell.submit_transaction, operations),
                "Firebell (shared.core.table_transaction)": functools.partial(submit_transaction, firebell, operations),
            }
        )
    environment = f"{len(os.environ)} environment variables"
    report(f"One table read, client CPU (best of {BLOCKS} blocks of {READS}; {environment})", compared(reads))
    report(f"A two-entity transaction, client CPU (best of {BLOCKS} blocks of {READS})", compared(transactions))


if __name__ == "__main__":
    main()
