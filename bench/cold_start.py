"""Cold import time: what every function instance pays on a cold start, before any request.

Also what the Azure Boards SDK would add if it were imported at start-up: it is imported only inside the Boards
adapter's call path (shared/workitems/boards.py), so only a `workitems` invocation that talks to Boards pays for it.

And what the import no longer loads is paid by the first invocation that needs it: the first alert of a fresh
interpreter against Azurite (storage SDKs, catalog, incident store, alert intake, the announcement's queue client),
then a second alert for comparison. Import plus first alert is what a cold alert costs end to end.

And telemetry on versus off: with APPLICATIONINSIGHTS_CONNECTION_STRING set, loading the app must cost the same as
without it, and what the Azure Monitor distro costs (import, then configure_azure_monitor) is paid once per process
on a background thread after the first invocation (shared/core/telemetry.py). The connection string points at a
closed local port: nothing leaves the machine, and export failures come after the figures are taken.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench.figures import median, report
from devhost.azurite import ROOT, Azurite

RUNS = 10
# A configured app, as in Azure (where the setting is the identity form): without any storage setting the start-up
# check would log that it is missing, which is not what a cold start measures. Either form imports the same modules.
ENVIRONMENT = {
    **os.environ,
    "AzureWebJobsStorage": os.environ.get("AzureWebJobsStorage") or "UseDevelopmentStorage=true",
}
BOARDS_SDK = "import azure.devops.connection, azure.devops.v7_1.work_item_tracking.work_item_tracking_client, msrest"
MANAGED_IDENTITY = "import azure.identity"
# The HTTP functions announce a change with the queue SDK (shared.core.storage loads it on first use): each instance's
# first announcement pays for it, not its start.
QUEUE_SDK = "import azure.storage.queue"
SDK_MODULES = ("azure.devops", "msrest", "azure.identity", "msal")
TELEMETRY_ON = {
    **ENVIRONMENT,
    "APPLICATIONINSIGHTS_CONNECTION_STRING": (
        "InstrumentationKey=00000000-0000-4000-8000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"
    ),
}
TELEMETRY_OFF = {key: value for key, value in ENVIRONMENT.items() if key != "APPLICATIONINSIGHTS_CONNECTION_STRING"}
TELEMETRY_MODULES = ("azure.monitor", "opentelemetry")


def import_seconds(*statements: str) -> list[float]:
    """Wall time of a fresh interpreter that only runs each statement, minus an empty interpreter's time. The
    statements (and the empty one) take turns, so that a busy machine weighs on each alike."""

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env=ENVIRONMENT)
        return time.perf_counter() - started

    samples: dict[str, list[float]] = {code: [] for code in ("pass", *statements)}
    for _ in range(RUNS):
        for code, times in samples.items():
            times.append(run(code))
    empty = median(samples["pass"])
    return [median(samples[statement]) - empty for statement in statements]


def sdk_modules_after(statement: str) -> list[str]:
    """Which Boards SDK modules a fresh interpreter has loaded after `statement`."""
    probe = (
        f"{statement}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({SDK_MODULES!r}))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True, env=ENVIRONMENT
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def in_process_seconds() -> tuple[float, float, float, float]:
    """In one fresh interpreter: import function_app, then the Boards SDK, then azure-identity, then the queue SDK,
    each timed on top of the previous (so shared dependencies count once). Medians over fresh interpreters; less
    sensitive to a busy machine than whole-process wall times."""
    probe = (
        "import json, time\n"
        "t0 = time.perf_counter()\nimport function_app\nt1 = time.perf_counter()\n"
        f"{BOARDS_SDK}\nt2 = time.perf_counter()\n{MANAGED_IDENTITY}\nt3 = time.perf_counter()\n"
        f"{QUEUE_SDK}\nt4 = time.perf_counter()\n"
        "print(json.dumps([t1 - t0, t2 - t1, t3 - t2, t4 - t3]))"
    )
    samples = []
    for _ in range(RUNS):
        result = subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True, env=ENVIRONMENT
        )
        samples.append(json.loads(result.stdout.strip().splitlines()[-1]))
    app, sdk, identity, queue = (median([sample[index] for sample in samples]) for index in range(4))
    return app, sdk, identity, queue


def queue_alone_seconds() -> float:
    """What the first announcement of an instance that has loaded nothing else pays: the queue SDK timed on top of
    function_app in one fresh interpreter (Boards and azure-identity, which share some of its dependencies, not
    loaded first)."""
    probe = (
        "import json, time\nimport function_app\n"
        f"t0 = time.perf_counter()\n{QUEUE_SDK}\nprint(json.dumps(time.perf_counter() - t0))"
    )
    samples = []
    for _ in range(RUNS):
        result = subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True, env=ENVIRONMENT
        )
        samples.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return median(samples)


FIRST_ALERTS = """
import json, sys, time
t0 = time.perf_counter()
import function_app
import azure.functions as func
from functions import alerts
t1 = time.perf_counter()
bodies = [sys.stdin.buffer.readline().rstrip(b"\\n") for _ in range(2)]
answers, times = [], []
for body in bodies:
    started = time.perf_counter()
    answer = alerts.receive(func.HttpRequest("POST", "http://localhost/api/alerts", body=body))
    times.append(time.perf_counter() - started)
    answers.append(answer.status_code)
print(json.dumps([t1 - t0, *times, answers]))
"""


def first_alert_seconds() -> tuple[float, float, float]:
    """In fresh interpreters against one Azurite: import function_app; then its first alert (a new incident, through
    the alert function as the host calls it); then a second alert. Medians of RUNS."""
    template = json.loads(
        (ROOT / "samples" / "azure-monitor" / "59_test_action_metric_static_threshold.json").read_text()
    )

    def body(run: int, index: int) -> bytes:
        essentials = template["data"]["essentials"]
        alert_id = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/cold-{run}-{index}-{time.time_ns()}"
        rule = f"cold start {run}-{index}-{time.time_ns()}"  # its own rule and alert id: never a duplicate
        changed = {**essentials, "alertId": alert_id, "alertRule": rule, "originAlertId": alert_id}
        return json.dumps({**template, "data": {**template["data"], "essentials": changed}}).encode()

    samples = []
    with Azurite() as storage:
        environment = {**ENVIRONMENT, "AzureWebJobsStorage": storage.connection_string}
        for run in range(RUNS):
            result = subprocess.run(
                [sys.executable, "-c", FIRST_ALERTS],
                cwd=ROOT,
                check=True,
                capture_output=True,
                input=body(run, 0) + b"\n" + body(run, 1) + b"\n",
                env=environment,
            )
            sample = json.loads(result.stdout.strip().splitlines()[-1])
            if sample[3] != [202, 202]:
                raise RuntimeError(f"an alert was not taken: {sample[3]}: {result.stderr[-500:]!r}")
            samples.append(sample)
    app, first, second = (median([sample[index] for sample in samples]) for index in range(3))
    return app, first, second


def app_import_off_and_on() -> tuple[tuple[float, int], tuple[float, int]]:
    """`import function_app` in fresh interpreters with telemetry off and on, alternating so that a busy machine
    weighs on both alike: (median seconds, most telemetry modules loaded) for each."""
    probe = (
        "import json, sys, time\n"
        "t0 = time.perf_counter()\nimport function_app\nt1 = time.perf_counter()\n"
        f"print(json.dumps([t1 - t0, len([m for m in sys.modules if m.startswith({TELEMETRY_MODULES!r})])]))\n"
    )

    def run(environment: dict[str, str]) -> list[float]:
        result = subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True, env=environment
        )
        return json.loads(result.stdout.splitlines()[-1])

    pairs = [(run(TELEMETRY_OFF), run(TELEMETRY_ON)) for _ in range(RUNS)]
    off, on = ([pair[index] for pair in pairs] for index in (0, 1))
    return (
        (median([sample[0] for sample in off]), int(max(sample[1] for sample in off))),
        (median([sample[0] for sample in on]), int(max(sample[1] for sample in on))),
    )


def telemetry_seconds(environment: dict[str, str]) -> tuple[float, float, float, float, int]:
    """In one fresh interpreter: import function_app; then the OpenTelemetry metrics API alone; then the distro's
    import; then configure_azure_monitor() as Firebell calls it — each timed on top of the previous. Also how many
    telemetry modules loading the app brought in (0 expected). Medians over fresh interpreters."""
    probe = (
        "import json, os, sys, time\n"
        "t0 = time.perf_counter()\nimport function_app\nt1 = time.perf_counter()\n"
        f"loaded = [m for m in sys.modules if m.startswith({TELEMETRY_MODULES!r})]\n"
        "import opentelemetry.metrics\nt2 = time.perf_counter()\n"
        "from azure.monitor.opentelemetry import configure_azure_monitor\nt3 = time.perf_counter()\n"
        "from shared.core import telemetry\nok = telemetry.configure()\nt4 = time.perf_counter()\n"
        "print(json.dumps([t1 - t0, t2 - t1, t3 - t2, t4 - t3, len(loaded), ok]), flush=True)\n"
        "os._exit(0)  # no exporter flush at exit: the endpoint is a closed port\n"
    )
    samples = []
    for _ in range(RUNS):
        result = subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True, env=environment
        )
        sample = json.loads(result.stdout.strip().splitlines()[-1])
        if not sample[5]:
            raise RuntimeError(f"configure_azure_monitor failed: {result.stderr[-500:]}")
        samples.append(sample)
    app, api, distro, configure = (median([sample[index] for sample in samples]) for index in range(4))
    return app, api, distro, configure, max(sample[4] for sample in samples)


def main() -> None:
    bare, app = import_seconds("import azure.functions", "import function_app")
    in_app, sdk, identity, queue = in_process_seconds()
    loaded = sdk_modules_after("import function_app")
    report(
        f"Cold import (median of {RUNS} fresh interpreters each, taking turns, interpreter start subtracted)",
        [
            ("import azure.functions", f"{bare * 1000:.0f} ms"),
            ("import function_app", f"{app * 1000:.0f} ms (×{app / bare:.2f}; issue 18's target ≤ ×1.5)"),
            ("Firebell's own share", f"{(app - bare) * 1000:.0f} ms"),
        ],
    )
    app_alone, first, second = first_alert_seconds()
    report(
        f"A cold alert: import, then the first alerts in the same interpreter, against Azurite (median of {RUNS})",
        [
            ("import function_app", f"{app_alone * 1000:.0f} ms"),
            ("first alert (loads what the alert path needs)", f"{first * 1000:.0f} ms"),
            ("second alert", f"{second * 1000:.0f} ms"),
            ("import + first alert", f"{(app_alone + first) * 1000:.0f} ms"),
        ],
    )
    report(
        f"Azure Boards SDK, imported on top of function_app in the same interpreter (median of {RUNS})",
        [
            ("import function_app", f"{in_app * 1000:.0f} ms"),
            ("+ azure-devops SDK and msrest", f"+{sdk * 1000:.0f} ms"),
            ("+ azure-identity (managed identity)", f"+{identity * 1000:.0f} ms"),
            ("kept off every cold start", f"{(sdk + identity) * 1000:.0f} ms ({(sdk + identity) / in_app:.0%})"),
            ("Boards SDK modules function_app loads", ", ".join(loaded) or "none"),
        ],
    )
    report(
        "Queue SDK, on top of the above: an instance's first announcement from an HTTP function pays it once",
        [("+ azure-storage-queue", f"+{queue * 1000:.0f} ms")],
    )
    report(
        f"Queue SDK on top of function_app alone, in the same interpreter (median of {RUNS})",
        [("first announcement, once per instance", f"+{queue_alone_seconds() * 1000:.0f} ms")],
    )
    (off_app, off_modules), (on_alone, on_modules) = app_import_off_and_on()
    on_app, api, distro, configure, _ = telemetry_seconds(TELEMETRY_ON)
    report(
        f"Telemetry (Azure Monitor OpenTelemetry distro), in one interpreter per run (median of {RUNS})",
        [
            ("import function_app, telemetry off", f"{off_app * 1000:.0f} ms ({off_modules} telemetry modules loaded)"),
            ("import function_app, telemetry on", f"{on_alone * 1000:.0f} ms ({on_modules} telemetry modules loaded)"),
            ("import function_app, telemetry on (run below)", f"{on_app * 1000:.0f} ms"),
            ("+ opentelemetry.metrics (the API alone)", f"+{api * 1000:.0f} ms"),
            ("+ import azure.monitor.opentelemetry", f"+{distro * 1000:.0f} ms"),
            ("+ configure_azure_monitor()", f"+{configure * 1000:.0f} ms"),
            (
                "kept off every cold start",
                f"{(api + distro + configure) * 1000:.0f} ms ({(api + distro + configure) / on_app:.0%} of the app's"
                " import), paid once per process on a background thread after the first invocation",
            ),
        ],
    )


if __name__ == "__main__":
    main()
