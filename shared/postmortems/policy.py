"""Review policy: which incidents need a blameless post-incident review before they close, and what the draft flags.

Loaded from `postmortems.toml` in FIREBELL_CONFIG_DIR (optional; the defaults below apply without it) and validated
up front like the other files: errors name file, key and problem, and unknown keys are errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from shared.catalog.severity import parse_level
from shared.core.config_file import known_keys, read_toml
from shared.core.errors import ConfigurationError
from shared.incidents.incident import CLOSED, POSTMORTEM, RESOLVED, Incident

POSTMORTEMS_FILE = "postmortems.toml"
_KEYS = {"required_severities", "silence_minutes"}


@dataclass(frozen=True)
class ReviewPolicy:
    # These severities need a review before they close, and are drafted as soon as they resolve; the others are
    # reviewed on request (`postmortem <id>`).
    required_severities: frozenset[int] = frozenset({1, 2})
    silence: timedelta = timedelta(minutes=30)  # a longer stretch without any event is flagged in the draft

    def requires_review(self, incident: Incident) -> bool:
        return incident.severity in self.required_severities

    def drafts(self, incident: Incident) -> bool:
        """Whether the incident has a draft to keep current: its review has started (or ended), or it resolved with
        a severity that needs one."""
        return incident.status in (POSTMORTEM, CLOSED) or (
            incident.status == RESOLVED and self.requires_review(incident)
        )


def load_review_policy(config_dir: Path) -> ReviewPolicy:
    path = config_dir / POSTMORTEMS_FILE
    document = read_toml(path)
    return ReviewPolicy() if document is None else parse_review_policy(document, str(path))


def parse_review_policy(document: dict[str, Any], where: str) -> ReviewPolicy:
    review = document.get("review", {})
    known_keys(document, {"review"}, where)
    if not isinstance(review, dict):
        raise ConfigurationError(f"{where}: review must be a table")
    known_keys(review, _KEYS, f"{where}: review")
    severities = review.get("required_severities", [1, 2])
    if not isinstance(severities, list):
        raise ConfigurationError(f"{where}: review.required_severities must be a list of severities, e.g. [1, 2]")
    required = frozenset(parse_level(value, f"{where}: review.required_severities") for value in severities)
    minutes = review.get("silence_minutes", 30)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 24 * 60:
        raise ConfigurationError(f"{where}: review.silence_minutes must be a whole number of minutes, 1 to 1440")
    return ReviewPolicy(required, timedelta(minutes=minutes))
