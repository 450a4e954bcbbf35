"""Azure Monitor common alert schema → a normalized Alert.

Pure: bytes in, a frozen Alert out, or InvalidInput naming the field that is wrong. Only the schema's structure
is refused (no essentials, no time, an unknown condition): Azure Monitor does not retry a 400 and the page must go
out, so odd characters are cleaned (shared.core.text) and over-long text is cut with a visible marker, never refused.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.azure_monitor.digest import Link, digest
from shared.core.entity_bounds import fit_text
from shared.core.errors import InvalidInput
from shared.core.json_body import decode_json_object
from shared.core.text import clean
from shared.core.timeutil import parse_instant

COMMON_ALERT_SCHEMA = "azureMonitorCommonAlertSchema"
FIRED, RESOLVED = "Fired", "Resolved"
_SEVERITY = re.compile(r"Sev[0-4]")
# Table keys may not contain / \ # ? or control characters; alert GUIDs are safe and short.
_SAFE_KEY = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Bounds that keep alert text readable on a card and a timeline (Azure's own names stay shorter); longer is cut.
MAX_NAME_LENGTH = 1024
MAX_DESCRIPTION = 2000
MAX_TARGETS = 20
# The action group custom property that marks an alert as a drill (a Chaos Day exercise), and the prefix of a drill
# alert's key: a drill and a real alert with one id never deduplicate against each other.
DRILL_PROPERTY = "firebell_drill"
DRILL_KEY_PREFIX = "drill-"


@dataclass(frozen=True)
class Alert:
    key: str
    alert_id: str
    rule: str | None
    severity: str | None
    condition: str
    monitoring_service: str
    signal_type: str | None
    targets: tuple[str, ...]
    configuration_items: tuple[str, ...]
    fired_at: datetime
    resolved_at: datetime | None
    description: str
    custom_properties: dict[str, str] = field(default_factory=dict)
    summary: str = ""  # one line on what the alert context says (metric value, query result, health event …)
    links: tuple[Link, ...] = ()  # investigation, search results, the alert in the Azure portal
    budget_threshold: str | None = None  # budget alerts: "Actual" or "Forecasted"
    drill: bool = False  # marked as a drill by the action group (shared.incidents.drill)


def parse_alert(body: bytes) -> Alert:
    document = decode_json_object(body)
    if document.get("schemaId") != COMMON_ALERT_SCHEMA:
        raise InvalidInput(
            f"schemaId must be {COMMON_ALERT_SCHEMA!r} (enable the common alert schema on the action group), "
            f"got {document.get('schemaId')!r}",
            code="invalid_alert",
        )
    data = _object(document, "data", "data")
    essentials = _object(data, "essentials", "data.essentials")
    condition = _string(essentials, "monitorCondition", required=True)
    if condition not in (FIRED, RESOLVED):
        raise InvalidInput(
            f"data.essentials.monitorCondition must be 'Fired' or 'Resolved', got {condition!r}", code="invalid_alert"
        )
    severity = _string(essentials, "severity")
    if severity is not None and not _SEVERITY.fullmatch(severity):
        raise InvalidInput(
            f"data.essentials.severity must be Sev0 to Sev4 or null, got {severity!r}", code="invalid_alert"
        )
    alert_id = _string(essentials, "alertId") or ""
    rule = _cut(_string(essentials, "alertRule"))
    origin = _string(essentials, "originAlertId")
    if not (alert_id or origin or rule):
        raise InvalidInput(
            "data.essentials needs an alertId (or originAlertId / alertRule) to identify the alert",
            code="invalid_alert",
        )
    context = digest(essentials, data.get("alertContext"))
    custom_properties = _custom_properties(data)
    drill = is_drill(custom_properties)
    # The key comes from the whole id, so two long ids alike in their first 1024 characters stay two alerts; a
    # drill's key is its own, so a drill and a real alert with one id never deduplicate against each other.
    key = alert_key(alert_id, origin, rule, _string(essentials, "firedDateTime"))
    return Alert(
        key=DRILL_KEY_PREFIX + key if drill else key,
        alert_id=_cut(alert_id) or "",
        rule=rule,
        severity=severity,
        condition=condition,
        monitoring_service=_cut(_string(essentials, "monitoringService")) or "Unknown",
        signal_type=_cut(_string(essentials, "signalType")),
        targets=_strings(essentials, "alertTargetIDs")[:MAX_TARGETS],
        configuration_items=_strings(essentials, "configurationItems")[:MAX_TARGETS],
        fired_at=_instant(essentials, "firedDateTime", required=True),
        resolved_at=_instant(essentials, "resolvedDateTime"),
        description=fit_text(_string(essentials, "description", multiline=True) or "", MAX_DESCRIPTION),
        custom_properties=custom_properties,
        summary=clean(context.summary),
        links=context.links,
        budget_threshold=context.budget_threshold,
        drill=drill,
    )


def is_drill(custom_properties: dict[str, str]) -> bool:
    """Whether the action group's custom properties mark the alert as a drill: `firebell_drill` is `true` (any case,
    spaces around the name or value ignored); anything else is a real alert, for a real page must never be lost."""
    value = next((v for k, v in custom_properties.items() if k.strip().lower() == DRILL_PROPERTY), "")
    return value.strip().lower() == "true"


def alert_key(alert_id: str, origin_alert_id: str | None, rule: str | None, fired: str | None) -> str:
    """One key per Azure Monitor alert instance: the alert GUID, else a stable hash of what identifies it.

    The fallback includes the fired time when the alert has no id of its own: a rule name alone would make every
    later firing of that rule a duplicate of the first, forever.
    """
    tail = alert_id.rstrip("/").rsplit("/", 1)[-1]
    if tail and _SAFE_KEY.fullmatch(tail):
        return tail
    identity = alert_id or origin_alert_id or f"{rule}|{fired}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def _object(container: dict[str, Any], name: str, path: str) -> dict[str, Any]:
    value = container.get(name)
    if not isinstance(value, dict):
        what = "missing" if value is None else f"a {type(value).__name__}"
        raise InvalidInput(f"{path} must be an object, but it is {what}", code="invalid_alert")
    return value


def _string(essentials: dict[str, Any], name: str, *, required: bool = False, multiline: bool = False) -> str | None:
    value = essentials.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        what = "missing" if value is None else repr(value)[:80]
        raise InvalidInput(f"data.essentials.{name} must be a string, got {what}", code="invalid_alert")
    return clean(value, multiline=multiline)


def _cut(text: str | None) -> str | None:
    return None if text is None else fit_text(text, MAX_NAME_LENGTH)


def _strings(essentials: dict[str, Any], name: str) -> tuple[str, ...]:
    value = essentials.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput(f"data.essentials.{name} must be a list of strings", code="invalid_alert")
    return tuple(fit_text(clean(item), MAX_NAME_LENGTH) for item in value[:MAX_TARGETS])


def _instant(essentials: dict[str, Any], name: str, *, required: bool = False) -> datetime | None:
    text = _string(essentials, name, required=required)
    if text is None:
        return None
    try:
        return parse_instant(text)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"data.essentials.{name} is not an ISO 8601 time (from 1970 on): {text!r}", code="invalid_alert"
        ) from None


def _custom_properties(data: dict[str, Any]) -> dict[str, str]:
    # customProperties is null when the rule sets none; values are documented as strings but stay tolerant.
    value = data.get("customProperties")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("data.customProperties must be an object or null", code="invalid_alert")
    return {clean(str(name)): "" if item is None else clean(str(item)) for name, item in value.items()}
