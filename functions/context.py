"""What every function shares in one process: settings, the service catalog and the incident store."""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path

from shared.azure_monitor.secure_webhook import SecureWebhookPolicy, verify_bearer
from shared.catalog.services import CATALOG_FILE, Catalog, load_catalog
from shared.core import storage
from shared.core.errors import ConfigurationError
from shared.core.settings import Settings
from shared.core.timeutil import utc_now
from shared.incidents.store import IncidentStore
from shared.notifications.policy_config import ESCALATIONS_FILE, EscalationConfig, load_escalations
from shared.oncall.health import problems as oncall_problems
from shared.oncall.override_store import OverrideStore
from shared.oncall.people import Directory, load_directory
from shared.oncall.schedule import Schedule, check_service_rosters, load_schedule
from shared.workitems.config import BoardsConfig, load_boards_config

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
def _schedule_from(config_dir: Path) -> Schedule:
    return load_schedule(config_dir, _directory_from(config_dir))


def schedule() -> Schedule:
    """The on-call schedule (oncall.toml), loaded once per process; ConfigurationError when invalid."""
    return _schedule_from(settings().config_dir)


def service_rosters() -> None:
    """Every roster services.toml names exists in oncall.toml (an invalid file is reported by its own check)."""
    try:
        found_catalog, found_schedule = catalog(), schedule()
    except ConfigurationError:
        return
    check_service_rosters(found_catalog, found_schedule, str(settings().config_dir / CATALOG_FILE))


@cache
def _boards_from(config_dir: Path) -> BoardsConfig:
    return load_boards_config(config_dir)


def boards() -> BoardsConfig:
    """How incidents become Azure Boards work items (boards.toml; defaults when the file is absent)."""
    return _boards_from(settings().config_dir)


@cache
def _escalations_from(config_dir: Path) -> EscalationConfig:
    config = load_escalations(config_dir, {service.id for service in _catalog_from(config_dir).services} | {"default"})
    config.check_targets(_schedule_from(config_dir), _directory_from(config_dir), str(config_dir / ESCALATIONS_FILE))
    return config


def escalations() -> EscalationConfig:
    """Escalation policies and which incidents follow which (escalations.toml); ConfigurationError when invalid."""
    return _escalations_from(settings().config_dir)


@cache
def _store_for(account: storage.StorageAccount) -> IncidentStore:
    return IncidentStore(account)


def check_configuration() -> list[str]:
    """Validate the configuration at start-up; each problem names file, key and what is wrong, and is logged.

    Functions still start: alerts then answer 503 (Azure Monitor retries) and /api/health says why, so nothing is
    lost while someone fixes the file.
    """
    problems: list[str] = []
    for check in (catalog, people, secure_webhook, boards, schedule, service_rosters, escalations):
        try:
            check()
        except ConfigurationError as problem:
            if problem.detail in problems:
                continue  # the schedule repeats an invalid people.toml's error
            problems.append(problem.detail)
            log.error("configuration invalid: %s", problem.detail)
    log_oncall_problems()
    return problems


def log_oncall_problems() -> None:
    """Gaps and unhealthy set-ups in the schedule (rotations only: overrides are in storage) are warnings."""
    try:
        found = oncall_problems(schedule(), utc_now())
    except ConfigurationError:
        return  # already reported as invalid
    for problem in found:
        log.warning("on-call %s: %s", problem.kind, problem.detail)


def secure_webhook() -> SecureWebhookPolicy | None:
    """The Entra ID secure-webhook policy, None when off; ConfigurationError when its settings are half set."""
    return SecureWebhookPolicy.from_environment(os.environ)


def verify_secure_webhook(authorization: str | None) -> None:
    """When the Entra ID secure webhook is configured, the action group's bearer token must verify (else 401)."""
    policy = secure_webhook()
    if policy is not None:
        # PyJWT and cryptography load only here, so deployments without the feature never pay for them.
        from shared.azure_monitor.signing_keys import signing_keys

        verify_bearer(authorization, policy, signing_keys(policy.jwks_url).key_for, utc_now())


def override_store() -> OverrideStore:
    return OverrideStore(storage.account(), people())


def incident_store() -> IncidentStore:
    return _store_for(storage.account())
