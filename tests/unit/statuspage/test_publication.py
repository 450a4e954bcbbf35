"""The publication policy: internal services never reach the page, and an incident becomes public by severity — a
SEV1 at once, a SEV2–3 once acknowledged (or a public update is posted), a SEV4 only by a public update — always
under an opaque public id, never INC-n."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.catalog.publication import PublicationPolicy, parse_publication
from shared.catalog.services import Catalog, Service, parse_catalog
from shared.core.errors import ConfigurationError
from shared.incidents.incident import Incident
from shared.statuspage.public_ids import public_id
from shared.statuspage.public_view import is_published, status_page
from shared.statuspage.site import render_site
from tests.unit.statuspage.ids import pid

CATALOG = Catalog(
    services=(Service("checkout", "Checkout"), Service("build-agents", "Build pipelines", public=False)),
    default=Service("default", "Other services"),
)
T0 = datetime(2026, 3, 29, 10, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)


def _incident(number: int, severity: int, **changes: object) -> Incident:
    base = Incident(
        id=f"INC-{number}",
        number=number,
        title="internal title",
        service="checkout",
        components=("Checkout",),
        severity=severity,
        status="triggered",
        source="monitoring",
        source_detail="internal",
        detected_at=T0,
        declared_at=T0,
        updated_at=T0,
    )
    return replace(base, **changes)


def _blobs(incidents: list[Incident]) -> dict[str, str]:
    return {f.path: f.body.decode() for f in render_site(status_page("Acme Status", CATALOG, incidents))}


def test_an_internal_services_incident_and_component_never_appear_in_any_blob():
    internal = _incident(1, 1, service="build-agents", components=("Build pipelines",), title="agents down")
    for path, body in _blobs([internal]).items():
        assert "Build pipelines" not in body, path
        assert pid("INC-1") not in path and pid("INC-1") not in body, path


def test_a_sev3_is_not_public_until_acknowledged_and_stays_public_once_resolved():
    unacknowledged = _incident(1, 3)
    assert not is_published(unacknowledged, CATALOG)
    assert not any(pid("INC-1") in body for body in _blobs([unacknowledged]).values())
    acknowledged = replace(unacknowledged, status="acknowledged", acknowledged_at=LATER, updated_at=LATER)
    assert is_published(acknowledged, CATALOG)
    assert f"incidents/{pid('INC-1')}.html" in _blobs([acknowledged])
    resolved = replace(acknowledged, status="resolved", resolved_at=LATER + timedelta(minutes=30))
    assert is_published(resolved, CATALOG)


def test_a_false_positive_that_resolved_on_its_own_never_becomes_public():
    # Resolving records an acknowledgement at the same moment: that is not a responder acknowledging it.
    auto_resolved = _incident(1, 2, status="resolved", acknowledged_at=LATER, mitigated_at=LATER, resolved_at=LATER)
    moved_to_monitoring = _incident(2, 3, status="monitoring", acknowledged_at=LATER, mitigated_at=LATER)
    assert not is_published(auto_resolved, CATALOG) and not is_published(moved_to_monitoring, CATALOG)


def test_a_sev1_is_public_at_once_and_a_sev4_only_by_a_public_update():
    assert is_published(_incident(1, 1), CATALOG)
    acknowledged_sev4 = _incident(2, 4, status="acknowledged", acknowledged_at=LATER)
    assert not is_published(acknowledged_sev4, CATALOG)
    assert is_published(replace(acknowledged_sev4, latest_update="Slow searches.", latest_update_at=LATER), CATALOG)
    assert is_published(_incident(3, 3, latest_update="Looking into it.", latest_update_at=LATER), CATALOG)


def test_no_blob_names_an_incident_by_its_internal_id():
    incidents = [_incident(n, 1, declared_at=T0 + timedelta(minutes=n)) for n in range(1, 13)]
    incidents.append(replace(incidents[0], id="INC-13", number=13, status="resolved", resolved_at=LATER))
    blobs = _blobs(incidents)
    assert len([path for path in blobs if path.startswith("incidents/")]) == 13
    for path, body in blobs.items():
        assert "INC-" not in path and "INC-" not in body, path


def test_public_ids_are_opaque_stable_and_depend_on_the_key():
    first = public_id("INC-1", b"one key")
    assert first == public_id("INC-1", b"one key") and len(first) == 12 and first.isalnum() and first.islower()
    assert first != public_id("INC-2", b"one key") and first != public_id("INC-1", b"another key")


def test_the_policy_is_configured_per_severity_and_per_service_and_typos_are_errors():
    document = {
        "service": [{"id": "ci", "component": "CI", "public": False}],
        "publication": {"sev1": "declared", "sev4": "never"},
    }
    catalog = parse_catalog(document, "services.toml")
    assert catalog.service("ci").public is False and catalog.default.public is True
    assert catalog.publication == PublicationPolicy({1: "declared", 2: "acknowledged", 3: "acknowledged", 4: "never"})
    with pytest.raises(ConfigurationError, match=r"publication\.sev5: unknown key"):
        parse_publication({"sev5": "declared"}, "services.toml: publication")
    with pytest.raises(ConfigurationError, match=r"publication\.sev2: must be one of declared, acknowledged"):
        parse_publication({"sev2": "at once"}, "services.toml: publication")
    with pytest.raises(ConfigurationError, match=r"service\[0\]\.public: must be true or false"):
        parse_catalog({"service": [{"id": "ci", "component": "CI", "public": "no"}]}, "services.toml")
