"""Which Azure Monitor alerts never send `Resolved`.

Stateful rules (metric alerts, log search alerts v2 with auto-mitigation, Prometheus, smart detection) send `Fired`
and later `Resolved`. Stateless ones send `Fired` for each event and nothing after (Microsoft Learn, "Alert rule
types" and "Activity log alerts"): every activity log alert — administrative, policy, security, autoscale, and the
service health and resource health alerts, which are activity log alerts too — budget (cost) alerts, and the
classic log search alerts (monitoring services "Log Analytics" and "Application Insights", and "Simple Log Alert").
An incident must not wait for their resolution (shared.incidents.detection).

A log search alert v2 whose rule turned auto-mitigation off is stateless too, but its payload does not say so; it
is treated as stateful and its incident waits for a person (README: stateless alerts).
"""

from __future__ import annotations

# Monitoring services as _key() writes them: "Resource Health" and "ResourceHealth" are both published.
_STATELESS_SERVICES = frozenset(
    {"servicehealth", "resourcehealth", "costalerts", "budget", "loganalytics", "applicationinsights", "simplelogalert"}
)
_STATELESS_SIGNALS = frozenset({"activitylog"})


def never_resolves(monitoring_service: str | None, signal_type: str | None) -> bool:
    service = _key(monitoring_service)
    return (
        service.startswith("activitylog") or service in _STATELESS_SERVICES or _key(signal_type) in _STATELESS_SIGNALS
    )


def _key(text: str | None) -> str:
    return "".join((text or "").split()).casefold()
