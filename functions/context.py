"""What every function shares in one process: settings, the service catalog and the incident store."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from shared.adapters import storage
from shared.adapters.incident_store import IncidentStore
from shared.catalog import Catalog, load_catalog
from shared.settings import Settings


def settings() -> Settings:
    return Settings.from_environment()


@cache
def _catalog_from(config_dir: Path) -> Catalog:
    return load_catalog(config_dir)


def catalog() -> Catalog:
    return _catalog_from(settings().config_dir)


@cache
def _store_for(account: storage.StorageAccount) -> IncidentStore:
    return IncidentStore(account)


def incident_store() -> IncidentStore:
    return _store_for(storage.account())
