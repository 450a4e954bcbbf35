"""Every Bicep file in infra/ parses (pycep-parser), and main.bicep wires every module file."""

import pytest
from pycep import BicepParser

from tests.infra.bicep_model import INFRA, MAIN, bicep_files, parse


def test_infra_has_the_modules_per_concern():
    names = {path.name for path in bicep_files()}
    assert {
        "main.bicep",
        "identity.bicep",
        "storage.bicep",
        "monitoring.bicep",
        "keyvault.bicep",
        "functionapp.bicep",
        "actiongroups.bicep",
        "alerts.bicep",
    } <= names


@pytest.mark.parametrize("path", bicep_files(), ids=lambda path: str(path.relative_to(INFRA)))
def test_bicep_file_parses(path):
    document = BicepParser().parse(file_path=path)
    assert document.get("resources") or document.get("modules"), f"{path.name} declares nothing"


def test_main_uses_every_module_file():
    used = {(MAIN.parent / module["detail"]["path"]).resolve() for module in parse(MAIN)["modules"].values()}
    modules = {path.resolve() for path in bicep_files() if path != MAIN}
    assert modules - used == set(), "module files main.bicep does not deploy"
