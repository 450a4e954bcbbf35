"""The Azure Functions app: one FunctionApp, every blueprint registered. Nothing else lives here."""

import azure.functions as func

from functions import alerts, context, health, incidents, statuspage, teams

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(alerts.bp)
app.register_functions(health.bp)
app.register_functions(incidents.bp)
app.register_functions(statuspage.bp)
app.register_functions(teams.bp)

# Configuration is checked when the app loads, so a bad catalog shows up in the start-up log, not at 3 a.m.
context.check_configuration()
