"""Azure Monitor `data.alertContext` → a short human digest: one line of text and a few safe links.

Pure and total: any JSON value in, a ContextDigest out. Azure documents one alertContext shape per
`monitoringService` (alerts-common-schema.md, alerts-payload-samples.md); each shape has one small function
here. A shape we do not know, or a known shape with missing or mistyped fields, degrades to a generic line
("<monitoringService> alert: <alertRule>"), never to an exception: the digest is decoration on an alert that
has already been accepted, and must not be the reason it is lost.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

MAX_SUMMARY = 300
MAX_LINKS = 5
ELLIPSIS = "…"
PORTAL_ALERT_URL = "https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/AlertDetails.ReactView/alertId~/"
ACTUAL, FORECASTED = "Actual", "Forecasted"

# Each field is cut before it is cleaned, so a 256 KB string costs no more than a short one.
_FIELD_CHARS = 1000
_HTML_CHARS = 4000
_JSON_STRING_CHARS = 64 * 1024  # impactedServices / policies arrive as JSON inside a string
_MAX_URL = 4096
_MAX_ITEMS = 5  # criteria, dimensions, services, regions, labels: past this a digest stops being short
# Already in essentials (alertTargetIDs / configurationItems); a GUID tells a reader nothing.
_HIDDEN_DIMENSIONS = frozenset({"resourceid", "_resourceid"})
_BUDGET_CATEGORIES = frozenset({"budget", "budgets"})
# Preference order: filtered before unfiltered (it names the firing dimension), UI before API.
_V1_SEARCH_LINKS = (
    "LinkToFilteredSearchResultsUI",
    "LinkToSearchResultsUI",
    "LinkToSearchResults",
    "LinkToFilteredSearchResultsAPI",
    "LinkToSearchResultsAPI",
)
_V2_SEARCH_LINKS = (
    "linkToFilteredSearchResultsUI",
    "linkToSearchResultsUI",
    "linkToFilteredSearchResultsAPI",
    "linkToSearchResultsAPI",
)


@dataclass(frozen=True)
class Link:
    label: str
    url: str  # always an absolute http(s) URL


@dataclass(frozen=True)
class ContextDigest:
    summary: str  # one line of plain text, at most MAX_SUMMARY characters
    links: tuple[Link, ...]  # unique URLs, at most MAX_LINKS
    budget_threshold: str | None  # ACTUAL or FORECASTED for CostAlerts budget alerts, else None


def digest(essentials: dict, context: object) -> ContextDigest:
    """The digest of one alert; never raises, whatever JSON `essentials` and `context` hold."""
    essentials = essentials if isinstance(essentials, dict) else {}
    try:
        return _digest(essentials, context)
    except Exception:  # last line of defence only: the property tests run _digest without it
        return ContextDigest(_fit(_generic(essentials)), (), None)


def _digest(essentials: dict[str, Any], context: object) -> ContextDigest:
    shape = context if isinstance(context, dict) else {}
    summary = _summary(essentials, shape) or _generic(essentials)
    return ContextDigest(_fit(summary), _links(essentials, shape), _budget_threshold(essentials, shape))


# ---------------------------------------------------------------- dispatch


def _summary(essentials: dict[str, Any], context: dict[str, Any]) -> str | None:
    key = _service_key(_text(essentials.get("monitoringService")))
    if key == "platform":
        return _platform(context, _text(essentials.get("signalType")))
    summarize = _SUMMARIZERS.get(key)
    if summarize is None and key.startswith("activitylog"):
        summarize = _activity_log  # an activity log category Azure has not documented yet still has these fields
    return summarize(context) if summarize else None


def _service_key(service: str | None) -> str:
    # "Resource Health" and "ResourceHealth" are both published; spacing and case carry no meaning.
    return "".join((service or "").split()).casefold()


def _generic(essentials: dict[str, Any]) -> str:
    service = _text(essentials.get("monitoringService")) or "Azure Monitor"
    # Budget alerts have a null alertRule; their description is the only human sentence they carry.
    about = _text(essentials.get("alertRule")) or _text(essentials.get("description"))
    return f"{service} alert: {about}" if about else f"{service} alert"


# ---------------------------------------------------------------- metric alerts (monitoringService = Platform)


def _platform(context: dict[str, Any], signal: str | None) -> str | None:
    # The samples label a log search V1 context "Platform" too; its shape, not its label, decides.
    if signal == "Log" or _is_log_search(context):
        return _log_search(context) or _metric_alert(context)
    return _metric_alert(context)


def _metric_alert(context: dict[str, Any]) -> str | None:
    condition_type = _text(context.get("conditionType"))
    condition = context.get("condition")
    window = _text(_get(condition, "windowSize"))
    criteria = _get(condition, "allOf")

    def describe(criterion: dict[str, Any]) -> str | None:
        if condition_type == "WebtestLocationAvailabilityCriteria" or _text(criterion.get("webTestName")):
            return _availability_criterion(criterion, window)
        if condition_type == "DynamicThresholdCriteria" or "alertSensitivity" in criterion:
            return _dynamic_criterion(criterion, window)
        return _static_criterion(criterion, window)

    return _criteria(criteria, describe)


def _static_criterion(criterion: dict[str, Any], window: str | None) -> str | None:
    """Static threshold (Single/MultipleResourceMultipleMetricCriteria): 'CPU GreaterThan 25 (Average over PT5M): 7'."""
    metric = _text(criterion.get("metricName"))
    if metric is None:
        return None
    how = _words(_text(criterion.get("timeAggregation")), _prefixed("over", window))
    return _measurement(metric, criterion, [how])


def _dynamic_criterion(criterion: dict[str, Any], window: str | None) -> str | None:
    """Dynamic threshold: the threshold is the one Azure computed for this window."""
    metric = _text(criterion.get("metricName"))
    if metric is None:
        return None
    how = _words(_text(criterion.get("timeAggregation")), _prefixed("over", window))
    sensitivity = _text(criterion.get("alertSensitivity"))
    dynamic = f"dynamic threshold, {sensitivity} sensitivity" if sensitivity else "dynamic threshold"
    return _measurement(metric, criterion, [how, dynamic, _failing_periods(criterion.get("failingPeriods"))])


def _availability_criterion(criterion: dict[str, Any], window: str | None) -> str | None:
    """Availability test: metricValue counts the locations that failed."""
    test = _text(criterion.get("webTestName"))
    component = _resource_name(_text(criterion.get("componentId")))
    failed = _text(criterion.get("metricValue"))
    threshold = _text(criterion.get("threshold")) or _text(criterion.get("failedLocationCount"))
    if not (test or component or failed):
        return None
    head = _words("Availability test", test, _prefixed("on", component))
    rule = _words(_text(criterion.get("operator")), threshold, _prefixed("over", window))
    body = _words(f"{failed} failed {_plural(failed, 'location')}" if failed else None, _parenthesised(rule))
    return f"{head}: {body}" if body else head


def _measurement(subject: str, criterion: dict[str, Any], details: list[str | None]) -> str:
    """'<subject> <operator> <threshold> (<details>): <value> [<dimensions>]', leaving out what is missing."""
    rule = _words(subject, _text(criterion.get("operator")), _text(criterion.get("threshold")))
    text = _words(rule, _parenthesised(", ".join(part for part in details if part)))
    value = _text(criterion.get("metricValue"))
    if value:
        text = f"{text}: {value}"
    return _words(text, _dimensions(criterion.get("dimensions")))


# ---------------------------------------------------------------- log search alerts


def _log_search(context: dict[str, Any]) -> str | None:
    """Log Analytics / Application Insights (V1, PascalCase) or Log Alerts V2 / Simple Log Alert (condition.allOf)."""
    if _is_log_search(context):
        return _log_search_v1(context)
    return _log_alert_v2(context)


def _is_log_search(context: dict[str, Any]) -> bool:
    return "SearchQuery" in context or "ResultCount" in context


def _log_search_v1(context: dict[str, Any]) -> str | None:
    query = _text(context.get("SearchQuery"))
    count = _text(context.get("ResultCount"))
    if query is None and count is None:
        return None
    minutes = _text(context.get("SearchIntervalInMinutes")) or _text(context.get("SearchIntervalDurationMin"))
    rule = _words(
        _text(context.get("AlertType")) or "Log search",
        _text(context.get("Operator")),
        _text(context.get("Threshold")),
        _parenthesised(_words(_prefixed("over", minutes), "min" if minutes else None)),
    )
    text = f"{rule}: {count} {_plural(count, 'result')}" if count else rule
    return _words(_words(text, _dimensions(context.get("Dimensions"))), _prefixed("—", query))


def _log_alert_v2(context: dict[str, Any]) -> str | None:
    window = _text(_get(context.get("condition"), "windowSize"))
    return _criteria(_get(context.get("condition"), "allOf"), lambda criterion: _log_criterion(criterion, window))


def _log_criterion(criterion: dict[str, Any], window: str | None) -> str | None:
    query = _text(criterion.get("searchQuery"))
    if query is None and _text(criterion.get("metricValue")) is None:
        return None
    subject = _text(criterion.get("metricMeasureColumn")) or "Query result"
    how = _words(_text(criterion.get("timeAggregation")), _prefixed("over", window))
    text = _measurement(subject, criterion, [how, _failing_periods(criterion.get("failingPeriods"))])
    return _words(text, _prefixed("—", query))


# ---------------------------------------------------------------- activity log alerts


def _activity_log(context: dict[str, Any]) -> str | None:
    """Administrative (and any other activity log category): what was done, with what outcome, where, by whom."""
    operation = _text(context.get("operationName")) or _text(_get(context, "authorization", "action"))
    if operation is None:
        return None
    return _words(
        operation,
        _text(context.get("status")),
        _parenthesised(_text(context.get("subStatus"))),
        _prefixed("on", _resource_name(_text(_get(context, "authorization", "scope")))),
        _prefixed("by", _text(context.get("caller"))),
    )


def _policy(context: dict[str, Any]) -> str | None:
    # properties.policies is a JSON array inside a string; which assignment fired matters most.
    assignments = []
    for policy in _objects(_json_value(_get(context, "properties", "policies"))):
        name = _text(policy.get("policyAssignmentName")) or _text(policy.get("policyDefinitionName"))
        details = ", ".join(
            part
            for part in (_text(policy.get("policyDefinitionReferenceId")), _text(policy.get("policyDefinitionEffect")))
            if part
        )
        if name:
            assignments.append(_words(name, _parenthesised(details)))
    operation = _activity_log(context)
    if not assignments:
        return operation
    policies = f"Policy {'; '.join(assignments)}"
    return f"{policies}: {operation}" if operation else policies


def _autoscale(context: dict[str, Any]) -> str | None:
    properties = _object(context.get("properties"))
    old, new = _text(properties.get("oldInstancesCount")), _text(properties.get("newInstancesCount"))
    change = f"{old} → {new} instances" if old and new else _text(properties.get("description"))
    if change is None:
        return _activity_log(context)
    head = _words(
        "Autoscale",
        _operation_verb(_text(context.get("operationName"))),
        _text(context.get("status")),
        _prefixed("on", _resource_name(_text(properties.get("resourceName")))),
    )
    return f"{head}: {change}"


def _security(context: dict[str, Any]) -> str | None:
    properties = _object(context.get("properties"))
    category = _text(properties.get("category"))
    entity = _text(properties.get("compromisedEntity"))
    if not (category or entity):
        return _activity_log(context)
    head = _words(
        "Security alert",
        category,
        _parenthesised(_text(properties.get("severity"))),
        _prefixed("on", entity),
    )
    outcome = _words(
        ", ".join(
            part for part in (_text(properties.get("threatStatus")), _text(properties.get("actionTaken"))) if part
        ),
        _prefixed("by", _text(properties.get("protectionType"))),
    )
    text = f"{head}: {outcome}" if outcome else head
    return _words(text, _prefixed("—", _text(properties.get("filePath"))))


def _service_health(context: dict[str, Any]) -> str | None:
    properties = _object(context.get("properties"))
    title = _text(properties.get("title")) or _text(properties.get("defaultLanguageTitle"))
    impact = _impacted_services(properties.get("impactedServices")) or _words(
        _text(properties.get("service")), _prefixed("in", _text(properties.get("region")))
    )
    if not (title or impact):
        return None
    kind = _words(
        _text(properties.get("incidentType")) or "Service health", _parenthesised(_text(properties.get("stage")))
    )
    # communication is HTML written for customers; reduced to text it is the best one-line explanation.
    communication = _plain_text(properties.get("communication"))
    return _words(f"{kind}: {title}" if title else kind, _prefixed("—", impact), _prefixed("—", communication))


def _impacted_services(value: object) -> str | None:
    """'Service in Region, Region; Service …' from impactedServices, a JSON array or a JSON string of one."""
    services = _json_value(value)
    entries = []
    for service in _objects(services):
        name = _text(service.get("ServiceName"))
        if name is None:
            continue
        regions = _capped(
            [_text(region.get("RegionName")) for region in _objects(service.get("ImpactedRegions"))],
            _length(service.get("ImpactedRegions")),
        )
        entries.append(_words(name, _prefixed("in", regions)))
    return _capped(entries, _length(services), separator="; ")


def _resource_health(context: dict[str, Any]) -> str | None:
    properties = _object(context.get("properties"))
    title = _text(properties.get("title"))
    current = _text(properties.get("currentHealthStatus"))
    previous = _text(properties.get("previousHealthStatus"))
    change = f"{previous} → {current}" if previous and current else current
    if not (title or change):
        return None
    why = ", ".join(part for part in (_text(properties.get("type")), _text(properties.get("cause"))) if part)
    head = title or "Resource health"
    return _words(f"{head}: {change}" if change else head, _parenthesised(why))


# ---------------------------------------------------------------- other services


def _smart_detector(context: dict[str, Any]) -> str | None:
    detector = _text(context.get("SmartDetectorName")) or _text(context.get("SmartDetectorId"))
    finding = _text(context.get("DetectionSummary"))
    detected, normal = _text(context.get("DetectedValue")), _text(context.get("NormalValue"))
    if not (detector or finding or detected):
        return None
    values = ", ".join(part for part in (_prefixed("detected", detected), _prefixed("normal", normal)) if part)
    head = f"{detector}: {finding}" if detector and finding else detector or finding or "Smart detection"
    return _words(head, _prefixed("—", values))


def _budget(context: dict[str, Any]) -> str | None:
    data = _object(context.get("AlertData"))
    name = _text(data.get("BudgetName"))
    threshold_type = _text(data.get("ThresholdType"))
    if not (name or threshold_type):
        return None
    figures = [
        _prefixed("forecast", _text(data.get("ForecastedTotalForPeriod"))),
        _prefixed("spent", _text(data.get("SpentAmount"))),
        _prefixed("alert threshold", _text(data.get("NotificationThresholdAmount"))),
        _prefixed("budget", _words(_text(data.get("BudgetThreshold")), _text(data.get("Unit")))),
    ]
    head = _words("Budget", name, _parenthesised(threshold_type))
    body = ", ".join(figure for figure in figures if figure)
    return f"{head}: {body}" if body else head


def _prometheus(context: dict[str, Any]) -> str | None:
    annotations = _object(context.get("annotations"))
    labels = _object(context.get("labels"))
    title = _text(annotations.get("summary")) or _text(annotations.get("description")) or _text(labels.get("alertname"))
    expression = _text(context.get("expression"))
    if not (title or expression):
        return None
    details = ", ".join(
        part
        for part in (
            _prefixed("value", _text(context.get("expressionValue"))),
            _prefixed("for", _text(context.get("for"))),
        )
        if part
    )
    condition = _words(expression, _parenthesised(details))
    text = f"{title}: {condition}" if title and condition else title or condition
    return _words(text, _labels(labels))


def _budget_threshold(essentials: dict[str, Any], context: dict[str, Any]) -> str | None:
    if _service_key(_text(essentials.get("monitoringService"))) != "costalerts":
        return None
    category = _text(context.get("AlertCategory"))
    if category is not None and category.casefold() not in _BUDGET_CATEGORIES:
        return None
    threshold_type = (_text(_get(context, "AlertData", "ThresholdType")) or "").casefold()
    return {"actual": ACTUAL, "forecasted": FORECASTED}.get(threshold_type)


_SUMMARIZERS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "loganalytics": _log_search,
    "applicationinsights": _log_search,
    "logalertsv2": _log_search,
    "simplelogalert": _log_search,
    "activitylog-administrative": _activity_log,
    "activitylog-policy": _policy,
    "activitylog-autoscale": _autoscale,
    "activitylog-security": _security,
    "servicehealth": _service_health,
    "activitylog-servicehealth": _service_health,
    "resourcehealth": _resource_health,
    "activitylog-resourcehealth": _resource_health,
    "smartdetector": _smart_detector,
    "costalerts": _budget,
    "prometheus": _prometheus,
}


# ---------------------------------------------------------------- links


def _links(essentials: dict[str, Any], context: dict[str, Any]) -> tuple[Link, ...]:
    # The alert itself first: a cap of MAX_LINKS must never push it out in favour of a fifth search link.
    candidates = [
        ("Alert in Azure portal", _alert_portal_url(essentials.get("alertId"))),
        ("Investigate in Azure portal", essentials.get("investigationLink")),
    ]
    candidates += [("Search results", url) for url in _search_links(context)]
    links: list[Link] = []
    for label, candidate in candidates:
        url = _safe_url(candidate)
        if url and all(link.url != url for link in links):
            links.append(Link(label, url))
            if len(links) == MAX_LINKS:
                break
    return tuple(links)


def _search_links(context: dict[str, Any]) -> list[str]:
    """One search-results URL per log source: the V1 context itself, or each V2 criterion."""
    sources = [(context, _V1_SEARCH_LINKS)]
    sources += [(criterion, _V2_SEARCH_LINKS) for criterion in _objects(_get(context.get("condition"), "allOf"))]
    found = []
    for source, names in sources:
        url = next((url for url in (_safe_url(source.get(name)) for name in names) if url), None)
        if url:
            found.append(url)
    return found


def _alert_portal_url(alert_id: object) -> str | None:
    """The portal page of /subscriptions/<id>/providers/Microsoft.AlertsManagement/alerts/<guid>; else None."""
    if not isinstance(alert_id, str) or len(alert_id) > 1024:
        return None
    parts = alert_id.split("/")
    if len(parts) != 7 or parts[0]:
        return None
    _, subscriptions, subscription, providers, namespace, alerts, guid = parts
    expected = ("subscriptions", "providers", "microsoft.alertsmanagement", "alerts")
    if (subscriptions.casefold(), providers.casefold(), namespace.casefold(), alerts.casefold()) != expected:
        return None
    if not subscription or not _is_guid(guid):
        return None
    return PORTAL_ALERT_URL + quote(alert_id, safe="")


def _safe_url(value: object) -> str | None:
    """An absolute http(s) URL, unchanged; anything else (javascript:, data:, relative, odd characters) is None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > _MAX_URL or any(char.isspace() or not char.isprintable() for char in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def _is_guid(text: str) -> bool:
    if len(text) != 36:
        return False
    return all(
        char == "-" if index in (8, 13, 18, 23) else char in "0123456789abcdefABCDEF" for index, char in enumerate(text)
    )


# ---------------------------------------------------------------- small helpers over untrusted JSON


def _text(value: object) -> str | None:
    """A JSON scalar as one line of display text; None for null, bools, containers and blank strings."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        raw = _integer(value)
    elif isinstance(value, float):
        raw = _number(value)
    elif isinstance(value, str):
        raw = value[:_FIELD_CHARS]
    else:
        return None
    if raw is None:
        return None
    line = " ".join("".join(char if char.isprintable() else " " for char in raw).split())
    return line or None


def _integer(value: int) -> str | None:
    try:
        return str(value)
    except ValueError:  # more digits than Python will print (sys.int_info.default_max_str_digits)
        return None


def _number(value: float) -> str:
    rounded = round(value, 4) if 1e-3 <= abs(value) < 1e15 else value
    if rounded.is_integer() and abs(rounded) < 1e15:
        return str(int(rounded))  # Azure sends 3.0 and 10000.0 for whole numbers
    return repr(rounded) if 1e-3 <= abs(rounded) < 1e15 else f"{rounded:.4g}"


def _plain_text(value: object) -> str | None:
    """HTML (Service Health communication) reduced to text: tags dropped, entities decoded. No regex, linear."""
    if not isinstance(value, str):
        return _text(value)
    markup, pieces, position = value[:_HTML_CHARS], [], 0
    while position < len(markup):
        start = markup.find("<", position)
        if start < 0:
            pieces.append(markup[position:])
            break
        pieces.append(markup[position:start])
        end = markup.find(">", start)
        if end < 0:
            break  # an unterminated tag: what follows is markup, not text
        pieces.append(" ")
        position = end + 1
    return _text(html.unescape("".join(pieces)))


def _json_value(value: object) -> object:
    """Azure sometimes nests JSON in a string (impactedServices, policies); decode it, or keep the value."""
    if not isinstance(value, str) or len(value) > _JSON_STRING_CHARS:
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return None


def _get(value: object, *path: str) -> object:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _objects(value: object) -> list[dict[str, Any]]:
    """The objects among the first few items of a list; anything that is not a list has none."""
    if not isinstance(value, list):
        return []
    return [item for item in value[: _MAX_ITEMS * 2] if isinstance(item, dict)]


def _length(value: object) -> int:
    return len(value) if isinstance(value, list) else 0


def _criteria(value: object, describe: Callable[[dict[str, Any]], str | None]) -> str | None:
    return _capped([describe(criterion) for criterion in _objects(value)], _length(value), separator="; ")


def _capped(items: list[str | None], total: int, separator: str = ", ") -> str | None:
    """The first few present items, and how many more there were."""
    present = [item for item in items if item]
    if not present:
        return None
    shown = present[:_MAX_ITEMS]
    rest = max(total, len(present)) - len(shown)
    text = separator.join(shown)
    return f"{text} (+{rest} more)" if rest > 0 else text


def _dimensions(value: object) -> str | None:
    pairs = []
    for dimension in _objects(value):
        name, setting = _text(dimension.get("name")), _text(dimension.get("value"))
        if name and setting and name.casefold() not in _HIDDEN_DIMENSIONS:
            pairs.append(f"{name}={_short(setting)}")
    return f"[{', '.join(pairs[:_MAX_ITEMS])}]" if pairs else None


def _labels(labels: dict[str, Any]) -> str | None:
    pairs = []
    for name, value in labels.items():
        setting = _text(value)
        if setting and name != "alertname":
            pairs.append(f"{_short(_text(name) or '?')}={_short(setting)}")
        if len(pairs) == _MAX_ITEMS:
            break
    return f"[{', '.join(pairs)}]" if pairs else None


def _failing_periods(value: object) -> str | None:
    """'3 of 4 periods failing'; the default 1 of 1 says nothing and is left out."""
    periods = _text(_get(value, "numberOfEvaluationPeriods"))
    failing = _text(_get(value, "minFailingPeriodsToAlert"))
    if periods is None or failing is None or periods == failing == "1":
        return None
    return f"{failing} of {periods} periods failing"


def _resource_name(resource_id: str | None) -> str | None:
    """The last segment of an ARM resource id ('…/virtualMachines/vm1' → 'vm1'); other scopes unchanged."""
    if resource_id is None or "/providers/" not in resource_id.casefold():
        return resource_id
    return resource_id.rstrip("/").rsplit("/", 1)[-1] or resource_id


def _operation_verb(operation: str | None) -> str | None:
    """'Microsoft.Insights/AutoscaleSettings/Scaleup/Action' → 'Scaleup'."""
    segments = (operation or "").split("/")
    if len(segments) < 2 or segments[-1].casefold() != "action":
        return None
    return segments[-2] or None


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _plural(count: str | None, noun: str) -> str:
    return noun if count == "1" else f"{noun}s"


def _words(*parts: str | None) -> str:
    return " ".join(part for part in parts if part)


def _prefixed(prefix: str, text: str | None) -> str | None:
    return f"{prefix} {text}" if text else None


def _parenthesised(text: str | None) -> str | None:
    return f"({text})" if text else None


def _fit(text: str) -> str:
    if len(text) <= MAX_SUMMARY:
        return text
    return text[: MAX_SUMMARY - 1].rstrip() + ELLIPSIS
