"""The composition root: what the functions of one process share — settings, configuration, stores, the status page
publisher, the Workflows sender — built here and handed to the flows in shared/ as parameters.

Each is built on first use and imports its module there: the stores and their SDKs load with the first function that
needs them, never with the app (README: Cold start)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from functions.configuration import Configuration, check_configuration
from shared.core import storage
from shared.core.once import one_per_key
from shared.core.settings import Settings
from shared.core.timeutil import utc_now

if TYPE_CHECKING:
    from shared.azure_monitor.secure_webhook import SecureWebhookPolicy
    from shared.catalog.services import Catalog
    from shared.incidents.store import IncidentStore
    from shared.notifications.notifier import Notifier
    from shared.oncall.notify_override_store import NotifyOverrideStore
    from shared.oncall.override_store import OverrideStore
    from shared.oncall.people import Directory
    from shared.oncall.schedule import Schedule
    from shared.readiness.store import ReadinessStore
    from shared.statuspage.maintenance_store import MaintenanceStore
    from shared.statuspage.publisher import SitePublisher
    from shared.statuspage.site_settings import SiteSettings
    from shared.teams.workflow import WorkflowSender


def settings() -> Settings:
    return Settings.from_environment()  # read per call: cheap, and tests change settings between requests


@one_per_key
def _configuration_for(folder: Path) -> Configuration:
    return Configuration(folder)


def configuration() -> Configuration:
    return _configuration_for(settings().config_dir)


def catalog() -> Catalog:
    return configuration().catalog()


def people() -> Directory:
    return configuration().people()


def schedule() -> Schedule:
    return configuration().schedule()


def check() -> list[str]:
    """The start-up check of the configuration files and the settings that come with them (storage included: a
    missing AzureWebJobsStorage is reported here, and every route that needs storage answers 503)."""
    return check_configuration(configuration(), [storage.target, secure_webhook, acs_events_policy])


def secure_webhook() -> SecureWebhookPolicy | None:
    """The Entra ID secure-webhook policy, None when off; ConfigurationError when its settings are half set."""
    from shared.azure_monitor.secure_webhook import SecureWebhookPolicy

    return SecureWebhookPolicy.from_environment(os.environ)


def verify_secure_webhook(authorization: str | None) -> None:
    """When the Entra ID secure webhook is configured, the action group's bearer token must verify (else 401)."""
    policy = secure_webhook()
    if policy is not None:
        # PyJWT and cryptography load only here, so deployments without the feature never pay for them.
        from shared.azure_monitor.secure_webhook import verify_bearer
        from shared.azure_monitor.signing_keys import signing_keys

        verify_bearer(authorization, policy, signing_keys(policy.jwks_url).key_for, utc_now())


def acs_events_policy() -> SecureWebhookPolicy | None:
    """Entra ID for Event Grid's deliveries to /api/acs/events, None when off; ConfigurationError when half set."""
    from shared.contacts.event_grid import entra_policy

    return entra_policy(os.environ)


def authenticate_acs_events(secret: str | None, authorization: str | None) -> str:
    """An Event Grid delivery's credential: the URL's secret or an Entra ID token (shared.contacts.event_grid)."""
    from shared.contacts import event_grid

    policy = acs_events_policy()
    key_for = None
    if policy is not None and authorization:
        from shared.azure_monitor.signing_keys import signing_keys  # PyJWT and cryptography: only with a token

        key_for = signing_keys(policy.jwks_url).key_for
    return event_grid.authenticate_delivery(
        secret,
        authorization,
        settings().acs_events_secret,
        policy,
        key_for,
        utc_now(),
        event_grid.publisher_app_id(os.environ),
    )


# --- stores and services: one per process and storage account, so their locks and caches serve every request ---
@one_per_key
def _incident_store_for(account: storage.StorageAccount) -> IncidentStore:
    from shared.incidents.store import IncidentStore

    return IncidentStore(account)


def incident_store() -> IncidentStore:
    return _incident_store_for(storage.account())


@one_per_key
def _maintenance_store_for(account: storage.StorageAccount) -> MaintenanceStore:
    from shared.statuspage.maintenance_store import MaintenanceStore

    return MaintenanceStore(account)


def maintenance_store() -> MaintenanceStore:
    return _maintenance_store_for(storage.account())


@one_per_key
def _readiness_store_for(account: storage.StorageAccount) -> ReadinessStore:
    from shared.readiness.store import ReadinessStore

    return ReadinessStore(account)


def readiness_store() -> ReadinessStore:
    """One per process and account, so its decoded month digests serve every request (checked by ETag)."""
    return _readiness_store_for(storage.account())


def override_store() -> OverrideStore:
    from shared.oncall.override_store import OverrideStore

    return OverrideStore(storage.account(), people())


def notify_override_store() -> NotifyOverrideStore:
    from shared.oncall.notify_override_store import NotifyOverrideStore

    return NotifyOverrideStore(storage.account())


def site_settings() -> SiteSettings:
    from shared.statuspage.site_settings import SiteSettings

    found = settings()
    return SiteSettings(found.status_page_title, catalog(), found.status_page_url, found.status_page_id_key.encode())


@one_per_key
def _publisher_for(account: storage.StorageAccount) -> SitePublisher:
    from shared.statuspage.publisher import SitePublisher

    return SitePublisher(account, site_settings)


def site_publisher() -> SitePublisher:
    """This instance's status page publisher for the account in `AzureWebJobsStorage`."""
    return _publisher_for(storage.account())


@one_per_key
def workflow_sender() -> WorkflowSender:
    """One per process; its budget per webhook is shared with every other instance through storage
    (shared.teams.budget)."""
    from shared.teams.budget import WebhookBudget
    from shared.teams.workflow import WorkflowSender

    return WorkflowSender(WebhookBudget(lambda: storage.account()))


def notifier(workflow: WorkflowSender | None = None) -> Notifier:
    from shared.notifications.ledger import EscalationLedger
    from shared.notifications.notifier import Notifier

    account = storage.account()
    return Notifier(
        incident_store(),
        EscalationLedger(account),
        workflow or workflow_sender(),
        account,
        settings(),
        configuration(),
        on_paged=_page_by_phone,
    )


def _page_by_phone(*args: Any, **kwargs: Any) -> object:
    """A paged person's SMS and voice rule steps (shared.contacts), loaded only when someone has such rules."""
    from shared.contacts.contact import start_ladder

    return start_ladder(*args, **kwargs)


def review_wiki() -> Any | None:
    """Where review drafts are published besides the private container: the Boards project's wiki, when Boards is
    configured and not switched off in boards.toml (None otherwise). The SDK loads with the first publish."""
    found = settings()
    boards = configuration().boards()
    if not found.boards_configured or not boards.enabled:
        return None
    from shared.postmortems.wiki import ReviewWiki
    from shared.workitems.boards import boards_for

    project = boards_for(found.azure_devops_org_url, found.azure_devops_project, found.azure_devops_pat, boards.http)
    return ReviewWiki(project)


def reset() -> None:
    """Forget everything kept per process (configuration, stores, publishers, signing keys, the managed identity's
    Communication Services token): tests use it between
    cases that change settings or storage."""
    for cached in (
        _configuration_for,
        _incident_store_for,
        _maintenance_store_for,
        _publisher_for,
        _readiness_store_for,
    ):
        cached.cache_clear()
    storage.reset()
    keys = sys.modules.get("shared.azure_monitor.signing_keys")  # loaded only with the secure webhook
    if keys is not None:
        keys.signing_keys.cache_clear()
    acs_auth = sys.modules.get("shared.contacts.acs_auth")  # loaded only with the first SMS or call
    if acs_auth is not None:
        acs_auth.forget_identities()
