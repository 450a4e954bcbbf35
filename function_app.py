"""The Azure Functions app: one FunctionApp, every blueprint registered. Nothing else lives here."""

import azure.functions as func

from functions import alerts, health, incidents, statuspage

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(alerts.bp)
app.register_functions(health.bp)
app.register_functions(incidents.bp)
app.register_functions(statuspage.bp)
