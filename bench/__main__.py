"""`make bench`: run every benchmark and print its figures."""

from bench import (
    alert_storm,
    channel_latency,
    cold_start,
    history,
    markup,
    metrics_query,
    notification_latency,
    postmortem_draft,
    readiness_report,
    sms_latency,
    status_burst,
    status_render,
    storage_ops,
    storage_request_cpu,
    teams_commands,
)
from bench.cpu import cores

if __name__ == "__main__":
    print(f"Firebell benchmarks ({cores()} cores; Azurite in memory)")
    cold_start.main()
    storage_ops.main()
    storage_request_cpu.main()
    alert_storm.main()
    teams_commands.main()
    markup.main()
    status_render.main()
    status_burst.main()
    notification_latency.main()
    channel_latency.main()
    sms_latency.main()
    metrics_query.main()
    readiness_report.main()
    postmortem_draft.main()
    history.main()
