"""Every table, queue and container the code names is created by infra/ (or documented below as created otherwise),
and every queue has its -poison twin, which an alert watches."""

from tests.infra.bicep_model import ROOT, created_names
from tests.infra.code_scan import scan

TABLES = "Microsoft.Storage/storageAccounts/tableServices/tables"
QUEUES = "Microsoft.Storage/storageAccounts/queueServices/queues"
CONTAINERS = "Microsoft.Storage/storageAccounts/blobServices/containers"

# DESIGN.md "Storage": what Firebell uses, including queues whose consumers are still being written.
DESIGN_TABLES = {"incidents", "timeline", "alerts", "overrides", "maintenances", "escalations", "workitems"}
DESIGN_QUEUES = {"notifications", "statuspage", "workitems", "escalations", "postmortems", "channels"}
DESIGN_CONTAINERS = {"postmortems", "statuspage"}

CREATED_OTHERWISE = {
    "$web": "created by Azure Storage when the static website is enabled (deployment script in storage.bicep)",
}


def test_the_scan_finds_the_names_it_must():
    use = scan()
    assert {"incidents", "timeline", "alerts", "escalations"} <= set(use.tables)
    assert {"notifications", "statuspage", "workitems", "escalations"} <= set(use.queues)
    assert "$web" in use.containers


def test_every_table_the_code_uses_is_created():
    missing = {name: sorted(files) for name, files in scan().tables.items() if name not in created_names(TABLES)}
    assert missing == {}


def test_every_queue_the_code_uses_is_created_with_its_poison_twin():
    queues = created_names(QUEUES)
    missing = {
        name: sorted(files)
        for name, files in scan().queues.items()
        if name not in queues or (not name.endswith("-poison") and f"{name}-poison" not in queues)
    }
    assert missing == {}


def test_every_container_the_code_uses_is_created_or_documented():
    containers = created_names(CONTAINERS)
    missing = {
        name: sorted(files)
        for name, files in scan().containers.items()
        if name not in containers and name not in CREATED_OTHERWISE
    }
    assert missing == {}


def test_the_design_names_are_created():
    assert created_names(TABLES) >= DESIGN_TABLES
    assert created_names(QUEUES) >= DESIGN_QUEUES | {f"{queue}-poison" for queue in DESIGN_QUEUES}
    assert created_names(CONTAINERS) >= DESIGN_CONTAINERS


def test_the_static_website_is_enabled_as_code():
    storage = (ROOT / "infra" / "modules" / "storage.bicep").read_text()
    script = (ROOT / "infra" / "scripts" / "enable-static-website.sh").read_text()
    assert "Microsoft.Resources/deploymentScripts" in storage
    assert "loadTextContent('../scripts/enable-static-website.sh')" in storage
    assert "--static-website" in script and "--auth-mode login" in script
