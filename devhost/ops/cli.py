"""`python -m devhost.ops <command>`: Firebell's operator tools, against Azurite or a real storage account through the
settings the functions use — AzureWebJobsStorage (a connection string) or the identity-based AzureWebJobsStorage__*
settings (an `az login` identity, a managed identity) — from the environment or local.settings.json.

Exit codes: 0 done; 1 storage failed while working (what was done is printed); 2 nothing done: a bad argument, a
missing or refused setting, invalid configuration. Each command ends with one summary line to paste into a ticket.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from devhost.settings import load_local_settings, storage_named
from shared.core.errors import ConfigurationError, InvalidInput
from shared.core.queues import QUEUES
from shared.core.storage import StorageTarget
from shared.core.timeutil import iso, parse_instant, utc_now

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = "python -m devhost.ops"
USAGE_ERROR, WORK_FAILED = 2, 1


class Refused(Exception):
    """Nothing was done: the message says why, in one line (exit 2)."""


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    arguments = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.ERROR)  # failures reach the operator as one line below
    try:
        _load_settings(arguments.settings)
        return arguments.command(arguments, out)
    except (Refused, ConfigurationError, InvalidInput) as problem:
        print(f"{PROGRAM}: {_line(problem)}", file=sys.stderr)
        return USAGE_ERROR
    except Exception as failure:
        return _storage_failure(failure)


def _storage_failure(failure: Exception) -> int:
    from azure.core.exceptions import AzureError, ClientAuthenticationError

    status = getattr(getattr(failure, "response", None), "status_code", None)
    # 403 without ClientAuthenticationError: signed in, but without a data role (AuthorizationPermissionMismatch).
    if isinstance(failure, ClientAuthenticationError) or status == 403:
        print(
            f"{PROGRAM}: storage refused the credentials ({_line(failure)}). Sign in with `az login` as someone "
            "with the Storage Queue, Table and Blob Data Contributor roles on the account",
            file=sys.stderr,
        )
        return USAGE_ERROR
    if isinstance(failure, AzureError):
        print(f"{PROGRAM}: storage failed: {_line(failure)}", file=sys.stderr)
        return WORK_FAILED
    raise failure


def _line(problem: Exception) -> str:
    text = " ".join(str(getattr(problem, "detail", None) or problem or type(problem).__name__).split())
    return text[:400]


# --- settings -------------------------------------------------------------------------------------------------------
def _load_settings(path: Path | None) -> None:
    """local.settings.json like the devhost (real environment variables win). When the environment names storage
    itself — a real account — the default file is not read at all: its storage, title and URLs are the local demo's."""
    if path is None:
        if storage_named(os.environ):
            return
        path = ROOT / "local.settings.json"
    elif path != Path(os.devnull) and not path.is_file():
        raise Refused(f"no settings file {path}")
    load_local_settings(path)


def where() -> str:
    """Which account the settings name, without secrets: `devstoreaccount1 (connection string)`,
    `stfirebell7x2 (Entra ID)`."""
    from shared.core import storage

    target: StorageTarget = storage.target()
    if target.connection_string:
        parts = dict(part.split("=", 1) for part in target.connection_string.split(";") if "=" in part)
        return f"{parts.get('AccountName', 'the account')} (connection string)"
    uri = urlsplit(target.queue_uri or target.table_uri or target.blob_uri)
    host = uri.hostname or ""
    name = host.split(".")[0] if host.endswith(".core.windows.net") else f"{uri.netloc}{uri.path}"
    return f"{name} (Entra ID)"


def _summary(command: str, account: str, text: str) -> str:
    return f"firebell {command} on {account} at {iso(utc_now())}: {text}"


# --- commands -------------------------------------------------------------------------------------------------------
def _replay_poison(arguments: argparse.Namespace, out: TextIO) -> int:
    from devhost.ops.replay import UnknownQueue, queue_named, replay_poison
    from shared.core import storage
    from shared.core.queues import poison

    if bool(arguments.queue) == arguments.all:
        raise Refused("name a QUEUE or give --all")
    try:
        queues = list(QUEUES) if arguments.all else [queue_named(arguments.queue)]
    except UnknownQueue as unknown:
        raise Refused(str(unknown)) from None
    account, label = storage.account(), where()
    results = []
    for queue in queues:
        result = replay_poison(account, queue, dry_run=arguments.dry_run)
        results.append(result)
        if arguments.dry_run:
            print(f"{poison(queue)}: {result.waiting} waiting, would be moved back to {queue}", file=out)
        else:
            twice = f" ({result.copied_twice} also copied by another replay)" if result.copied_twice else ""
            print(f"{poison(queue)}: {result.moved} moved back to {queue}{twice}", file=out)
    per_queue = ", ".join(f"{r.queue} {r.waiting if arguments.dry_run else r.moved}" for r in results)
    if arguments.dry_run:
        text = f"{sum(r.waiting for r in results)} poison messages waiting ({per_queue}); dry run, nothing moved"
    else:
        text = f"{sum(r.moved for r in results)} poison messages moved back to their queues ({per_queue})"
    print(_summary("replay-poison", label, text), file=out)
    return 0


def _render_site(arguments: argparse.Namespace, out: TextIO) -> int:
    from devhost.ops.site import render_site
    from functions import context
    from shared.statuspage.web_store import WEB_CONTAINER

    label = where()
    rendered = render_site(context.site_publisher())
    settings = context.settings()
    site = settings.status_page_url or f"the {WEB_CONTAINER} container"
    state = f"state version {rendered.state}" if rendered.state is not None else "no index published"
    text = (
        f"status site “{settings.status_page_title}” re-rendered and published to {site}: {rendered.written} files "
        f"written, {rendered.kept} already current; {state}"
    )
    print(_summary("render-site", label, text), file=out)
    return 0


def _export_incidents(arguments: argparse.Namespace, out: TextIO) -> int:
    from devhost.ops.export import export_incidents
    from functions import context
    from shared.incidents.incident import status_filter

    statuses = status_filter(arguments.status)
    since = _since(arguments.since)
    store, catalog, label = context.incident_store(), context.catalog(), where()
    events = [0]

    def written(timeline_events: int) -> None:
        events[0] += timeline_events

    if arguments.output is None:
        count = export_incidents(store, catalog, out, statuses=statuses, declared_since=since, written=written)
        report = sys.stderr  # stdout carries the JSON lines
        destination = "standard output"
    else:
        count = _export_to_file(
            arguments.output,
            lambda file: export_incidents(
                store, catalog, file, statuses=statuses, declared_since=since, written=written
            ),
        )
        report, destination = out, str(arguments.output)
    chosen = [f"status {arguments.status}"] if arguments.status else []
    chosen += [f"declared since {iso(since)}"] if since else []
    which = f" ({', '.join(chosen)})" if chosen else ""
    text = f"{count} incidents{which} with {events[0]} timeline events exported as JSON lines to {destination}"
    print(_summary("export-incidents", label, text), file=report)
    return 0


def _export_to_file(path: Path, export: Callable[[TextIO], int]) -> int:
    """Written beside the target and renamed at the end: a failed export never leaves a file that looks complete."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as file:
            count = export(file)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_instant(text.strip())
    except ValueError:
        raise Refused(f"--since {text[:40]!r} is not a date (2026-12-01) or an ISO 8601 instant") from None


def _boards_reconcile(arguments: argparse.Namespace, out: TextIO) -> int:
    from devhost.ops.reconcile import reconcile
    from functions import context
    from shared.catalog.severity import label as severity_label
    from shared.core import storage
    from shared.core.queues import WORKITEMS

    config = context.configuration().boards()
    account, label = storage.account(), where()
    if not config.enabled:
        print(_summary("boards-reconcile", label, "boards.toml has enabled = false; nothing to reconcile"), file=out)
        return 0
    checked = [0]
    enqueued: list[str] = []
    left: list[str] = []

    def count() -> None:
        checked[0] += 1

    findings = reconcile(context.incident_store(), account, config, utc_now(), dry_run=arguments.dry_run, checked=count)
    for finding in findings:
        incident = finding.incident
        about = f"{incident.id} [{severity_label(incident.severity)}, {incident.status}] {incident.title[:80]}"
        if finding.message is None:
            left.append(incident.id)
            print(f"{about}: {finding.reason}; left alone", file=out)
            continue
        enqueued.append(incident.id)
        action = "would enqueue its change on" if arguments.dry_run else "change enqueued on"
        print(f"{about}: {finding.reason}; {action} {WORKITEMS}", file=out)
    threshold = severity_label(config.min_severity)
    verb = "would be enqueued (dry run, nothing enqueued)" if arguments.dry_run else f"enqueued on {WORKITEMS}"
    text = (
        f"{checked[0]} incidents checked; {len(enqueued)} at or above {threshold} without a work item {verb}"
        + (f": {', '.join(enqueued)}" if enqueued else "")
        + (f"; {len(left)} left alone: {', '.join(left)}" if left else "")
    )
    print(_summary("boards-reconcile", label, text), file=out)
    return 0


def _reindex(arguments: argparse.Namespace, out: TextIO) -> int:
    from functions import context

    label = where()
    written, removed = context.incident_store().reindex_open()
    text = (
        f"open incidents index rebuilt: {written} open incidents indexed, {removed} stale entries removed; "
        "open listings and the reminders timer read the index from now on"
    )
    print(_summary("reindex", label, text), file=out)
    return 0


# --- arguments ------------------------------------------------------------------------------------------------------
def _drill(arguments: argparse.Namespace, out: TextIO) -> int:
    import requests

    from devhost.drill import run_drill, said

    try:
        instance, answer = run_drill(
            arguments.url,
            os.environ.get("FIREBELL_FUNCTION_KEY", ""),
            arguments.sample,
            arguments.severity,
            arguments.resolve,
        )
    except ValueError as problem:
        raise Refused(str(problem)) from None
    except (requests.RequestException, RuntimeError) as problem:
        print(f"{PROGRAM}: drill not fired: {_line(problem)}", file=sys.stderr)
        return WORK_FAILED
    print(_summary("drill", arguments.url, said(instance, answer, bool(arguments.resolve))), file=out)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Firebell's operator tools, against the storage account the functions use.",
        epilog=(
            "Storage comes from AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__accountName "
            "(or __queueServiceUri, __tableServiceUri, __blobServiceUri) with your `az login` identity. Exit codes: "
            "0 done, 1 storage failed while working, 2 nothing done (bad argument, setting or configuration)."
        ),
    )
    parser.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="a local.settings.json whose Values are used where the environment has none (default: the "
        "repository's local.settings.json, unless the environment names storage itself)",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    replay = commands.add_parser(
        "replay-poison",
        help="move messages from <queue>-poison back to <queue>",
        description="Move the messages the Functions host gave up on from <queue>-poison back to <queue> once the "
        "cause is fixed; the consumers are idempotent. Safe to run twice or concurrently: each message is deleted "
        "from poison only after its copy is enqueued.",
    )
    replay.add_argument("queue", nargs="?", metavar="QUEUE", help=f"one of {', '.join(QUEUES)}")
    replay.add_argument("--all", action="store_true", help="every queue")
    replay.add_argument("--dry-run", action="store_true", help="count what waits in poison; move nothing")
    replay.set_defaults(command=_replay_poison)

    site = commands.add_parser(
        "render-site",
        help="re-render and publish the status site now",
        description="Re-render the public status site and publish it to $web now, as the statuspage function does "
        "(an older render never replaces a newer one). Uses STATUS_PAGE_TITLE, STATUS_PAGE_URL and the service "
        "catalog in FIREBELL_CONFIG_DIR: set them as the app has them.",
    )
    site.set_defaults(command=_render_site)

    export = commands.add_parser(
        "export-incidents",
        help="incidents with their timelines as JSON lines",
        description="Write incidents with their timelines (in time order) as JSON lines, one incident per line, "
        "in the document GET /api/incidents/{id} answers; streamed, in the table's order.",
    )
    export.add_argument("--status", metavar="S", help="open, or statuses separated by commas (resolved,closed)")
    export.add_argument("--since", metavar="DATE", help="declared at or after DATE (2026-12-01, or an ISO instant)")
    export.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: standard output)")
    export.set_defaults(command=_export_incidents)

    boards = commands.add_parser(
        "boards-reconcile",
        help="enqueue incidents that should have an Azure Boards work item and have none",
        description="Find incidents at or above the Boards severity threshold (boards.toml min_severity) without a "
        "work item in the Boards ledger, and enqueue their change on the workitems queue so the workitems function "
        "creates the items (once: its ledger guards every item).",
    )
    boards.add_argument("--dry-run", action="store_true", help="list what would be enqueued; enqueue nothing")
    boards.set_defaults(command=_boards_reconcile)

    reindex = commands.add_parser(
        "reindex",
        help="index the open incidents stored before the index existed (once, after upgrading)",
        description="Build the open incidents index (a copy of each open incident beside it, which every write keeps "
        "in step) for incidents stored before it existed, remove entries of incidents no longer open, and mark the "
        "index complete: until then open listings and the reminders timer read every incident. Idempotent, and safe "
        "while Firebell runs (each entry is written under its incident's ETag).",
    )
    reindex.set_defaults(command=_reindex)

    drill = commands.add_parser(
        "drill",
        help="fire a drill (Chaos Day) alert at a running Firebell",
        description="Fire one of Azure Monitor's sample alerts at a running Firebell's /api/alerts (with "
        "FIREBELL_FUNCTION_KEY), marked as a drill: it pages and escalates like an incident, never reaches the status "
        "page or the metrics (docs/drills.md). The same as python -m devhost.drill.",
    )
    drill.add_argument("--url", default="http://127.0.0.1:7071", help="the Firebell to drill (default: the devhost)")
    drill.add_argument("--sample", default="59", help="a file of samples/azure-monitor/, or its number (default 59)")
    drill.add_argument("--severity", help="Sev0 … Sev4 instead of the sample's")
    drill.add_argument("--resolve", metavar="ID", help="resolve the drill alert fired before with this id")
    drill.set_defaults(command=_drill)
    return parser
