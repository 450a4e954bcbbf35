"""The Azure Functions app: one FunctionApp, every blueprint registered. Nothing else lives here."""

import azure.functions as func

from functions import (
    alerts,
    channels,
    contacts,
    escalations,
    followups,
    health,
    incidents,
    maintenances,
    metrics,
    notifications,
    oncall,
    openapi,
    people,
    postmortems,
    readiness,
    readiness_report,
    statuspage,
    teams,
    workitems,
)
from shared.core import telemetry

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (
    alerts,
    health,
    incidents,
    teams,
    oncall,
    maintenances,
    statuspage,
    notifications,
    escalations,
    workitems,
    channels,
    followups,
    metrics,
    readiness,
    readiness_report,
    postmortems,
    openapi,
    contacts,
    people,
):
    app.register_functions(blueprint.bp)

# Loading the app registers every function and loads nothing any one of them needs only when it runs (README: Cold
# start). The configuration is checked on a background thread once the first invocation has answered
# (functions.startup), so a bad catalog shows up in the start-up log, not at 3 a.m.
# With Application Insights configured, Firebell's log records are kept from here until the distro is set up, which
# happens after the first invocation has answered (shared.core.telemetry): nothing of it loads on the cold start.
telemetry.prepare()
