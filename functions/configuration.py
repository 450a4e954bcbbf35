"""Firebell's configuration files (config/*.toml, FIREBELL_CONFIG_DIR), each loaded once per process on first use,
and the start-up check that names every problem in them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from functions.lazy import lazy
from shared.core.errors import ConfigurationError
from shared.core.timeutil import utc_now

if TYPE_CHECKING:
    from shared.catalog.services import Catalog
    from shared.chatops.authorization import Policy
    from shared.notifications.policy_config import EscalationConfig
    from shared.oncall.people import Directory
    from shared.oncall.schedule import Schedule
    from shared.postmortems.policy import ReviewPolicy
    from shared.workitems.config import BoardsConfig

# Each file's loader (and the rules it checks against) loads with the first function that reads the file.
chatops_authorization = lazy("shared.chatops.authorization")
catalog_services = lazy("shared.catalog.services")
oncall_health = lazy("shared.oncall.health")
oncall_people = lazy("shared.oncall.people")
postmortems_policy = lazy("shared.postmortems.policy")
notifications_policy = lazy("shared.notifications.policy_config")
oncall_schedule = lazy("shared.oncall.schedule")
workitems_config = lazy("shared.workitems.config")

log = logging.getLogger("firebell.configuration")
Loaded = TypeVar("Loaded")


class Configuration:
    """The configuration files of one folder, each loaded on first use and kept; a file that does not load raises
    ConfigurationError (naming file, key and problem) each time it is asked for, until it is fixed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._loaded: dict[str, Any] = {}

    def _once(self, name: str, load: Callable[[], Loaded]) -> Loaded:
        if name not in self._loaded:
            try:
                self._loaded[name] = load()
            except ConfigurationError:
                raise
            except Exception as failure:  # a value no check foresaw: still reported, never a failed import
                log.exception("configuration %s could not be loaded", name)
                raise ConfigurationError(
                    f"{self.folder}: the {name} configuration could not be loaded ({type(failure).__name__})"
                ) from failure
        return self._loaded[name]

    def catalog(self) -> Catalog:
        return self._once("catalog", lambda: catalog_services.load_catalog(self.folder))

    def people(self) -> Directory:
        return self._once("people", lambda: oncall_people.load_directory(self.folder))

    def schedule(self) -> Schedule:
        return self._once("schedule", lambda: oncall_schedule.load_schedule(self.folder, self.people()))

    def authorization(self) -> Policy:
        """Who may run which Teams command (authorization.toml; defaults when the file is absent)."""
        return self._once("authorization", lambda: chatops_authorization.load_policy(self.folder, self.people()))

    def boards(self) -> BoardsConfig:
        """How incidents become Azure Boards work items (boards.toml; defaults when the file is absent)."""
        return self._once("boards", lambda: workitems_config.load_boards_config(self.folder))

    def review(self) -> ReviewPolicy:
        """Which incidents need a post-incident review, and what its draft flags (postmortems.toml; optional)."""
        return self._once("review", lambda: postmortems_policy.load_review_policy(self.folder))

    def escalations(self) -> EscalationConfig:
        def load() -> EscalationConfig:
            config = notifications_policy.load_escalations(
                self.folder, {service.id for service in self.catalog().services} | {"default"}
            )
            config.check_targets(
                self.schedule(), self.people(), str(self.folder / notifications_policy.ESCALATIONS_FILE)
            )
            return config

        return self._once("escalations", load)

    def service_rosters(self) -> None:
        """Every roster services.toml names exists in oncall.toml (an invalid file is reported by its own check)."""
        try:
            found_catalog, found_schedule = self.catalog(), self.schedule()
        except ConfigurationError:
            return
        oncall_schedule.check_service_rosters(
            found_catalog, found_schedule, str(self.folder / catalog_services.CATALOG_FILE)
        )


def check_configuration(config: Configuration, more: Iterable[Callable[[], Any]] = ()) -> list[str]:
    """Validate the configuration at start-up; each problem names file, key and what is wrong, and is logged.

    Functions still start: alerts then answer 503 (Azure Monitor retries) and /api/health says why, so nothing is
    lost while someone fixes the file. `more` are further checks (settings) that raise ConfigurationError.
    """
    checks = (
        config.catalog,
        config.people,
        *more,
        config.boards,
        config.review,
        config.schedule,
        config.service_rosters,
    )
    problems: list[str] = []
    for check in (*checks, config.escalations, config.authorization):
        try:
            check()
        except ConfigurationError as problem:
            if problem.detail not in problems:  # the schedule repeats an invalid people.toml's error
                problems.append(problem.detail)
                log.error("configuration invalid: %s", problem.detail)
    try:  # gaps and unhealthy set-ups in the rotations (overrides are in storage) are warnings
        for problem in oncall_health.problems(config.schedule(), utc_now()):
            log.warning("on-call %s: %s", problem.kind, problem.detail)
    except ConfigurationError:
        pass  # already reported as invalid
    return problems
