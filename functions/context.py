"""What every function shares in one process: settings, the service catalog and the incident store."""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path

from shared.adapters import storage
from shared.adapters.incident_store import IncidentStore
from shared.catalog import Catalog, load_catalog
from shared.errors import ConfigurationError
from shared.people import Directory, load_directory
from shared.secure_webhook import SecureWebhookPolicy, verify_bearer
from shared.settings import Settings
from shared.timeutil import utc_now

log = logging.getLogger("firebell.configuration")


def settings() -> Settings:
    return Settings.from_environment()


@cache
def _catalog_from(config_dir: Path) -> Catalog:
    return load_catalog(config_dir)


def catalog() -> Catalog:
    return _catalog_from(settings().config_dir)


@cache
def _directory_from(config_dir: Path) -> Directory:
    return load_directory(config_dir)


def people() -> Directory:
    return _directory_from(settings().config_dir)


@cache
def _store_for(account: storage.StorageAccount) -> IncidentStore:
    return IncidentStore(account)


def check_configuration() -> list[str]:
    """Validate the configuration at start-up; each problem names file, key and what is wrong, and is logged.

    Functions still start: alerts then answer 503 (Azure Monitor retries) and /api/health says why, so nothing is
    lost while someone fixes the file.
    """
    problems: list[str] = []
    for check in (catalog, people, secure_webhook):
        try:
            check()
        except ConfigurationError as problem:
            problems.append(problem.detail)
            log.error("configuration invalid: %s", problem.detail)
    return problems


def secure_webhook() -> SecureWebhookPolicy | None:
    """The Entra ID secure-webhook policy, None when off; ConfigurationError when its settings are half set."""
    return SecureWebhookPolicy.from_environment(os.environ)


def verify_secure_webhook(authorization: str | None) -> None:
    """When the Entra ID secure webhook is configured, the action group's bearer token must verify (else 401)."""
    policy = secure_webhook()
    if policy is not None:
        # PyJWT and cryptography load only here, so deployments without the feature never pay for them.
        from shared.adapters.signing_keys import signing_keys

        verify_bearer(authorization, policy, signing_keys(policy.jwks_url).key_for, utc_now())


def incident_store() -> IncidentStore:
    return _store_for(storage.account())
