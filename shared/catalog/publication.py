"""Publication policy: from which moment an incident of each severity is shown on the public status page.

A signal is not yet an incident customers should read about: most SEV3/SEV4 alerts that nobody acknowledged are
noise or false positives, and announcing them costs trust. So by default only a SEV1 is public at once; a SEV2 or
SEV3 once a responder acknowledged it (or posted a public update); a SEV4 only when someone posts a public update.
Which services may be public at all is the service catalog's `public` flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.catalog.severity import MILDEST, WORST
from shared.core.config_file import known_keys
from shared.core.errors import ConfigurationError

DECLARED = "declared"  # public as soon as it is opened
ACKNOWLEDGED = "acknowledged"  # once a responder acknowledged it, or a public update was posted
PUBLIC_UPDATE = "public_update"  # only once someone posted a public update
NEVER = "never"
MOMENTS = (DECLARED, ACKNOWLEDGED, PUBLIC_UPDATE, NEVER)
DEFAULT_MOMENTS = {1: DECLARED, 2: ACKNOWLEDGED, 3: ACKNOWLEDGED, 4: PUBLIC_UPDATE}


@dataclass(frozen=True)
class PublicationPolicy:
    moments: dict[int, str] = field(default_factory=lambda: dict(DEFAULT_MOMENTS))

    def public(self, severity: int, acknowledged_at: datetime | None, public_update_at: datetime | None) -> bool:
        """Whether an incident of `severity` is public, given when (if ever) it was acknowledged and when (if ever)
        a public update was posted."""
        moment = self.moments.get(severity, PUBLIC_UPDATE)
        if moment == DECLARED:
            return True
        if moment == ACKNOWLEDGED:
            return acknowledged_at is not None or public_update_at is not None
        if moment == PUBLIC_UPDATE:
            return public_update_at is not None
        return False


def parse_publication(table: Any, where: str) -> PublicationPolicy:
    """The catalog's optional [publication] table: `sev1 = "declared"`, … (each key optional)."""
    if table is None:
        return PublicationPolicy()
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: must be a table")
    keys = {f"sev{level}": level for level in range(WORST, MILDEST + 1)}
    known_keys(table, set(keys), where)
    moments = dict(DEFAULT_MOMENTS)
    for key, value in table.items():
        if value not in MOMENTS:
            raise ConfigurationError(f"{where}.{key}: must be one of {', '.join(MOMENTS)}, got {value!r}")
        moments[keys[key]] = value
    return PublicationPolicy(moments)
