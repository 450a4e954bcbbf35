"""What infra/ creates, read from the Bicep itself with pycep-parser: app settings, tables, queues, containers.

Only the few shapes main.bicep and its modules use are resolved (literals, parameters passed from main.bicep, main's
variables, `concat` and `${item}` names in loops); anything else raises, so a change of shape fails loudly instead of
being read as "nothing"."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"


@functools.cache
def parse(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def _module(path: Path) -> tuple[Path, dict[str, Any]]:
    """main.bicep's module declaration for a module file: its resolved path and its params."""
    for module in parse(MAIN).get("modules", {}).values():
        if (MAIN.parent / module["detail"]["path"]).resolve() == path.resolve():
            return path, module["config"]["params"]
    raise LookupError(f"{path} is not a module of main.bicep")


def _main_value(expression: Any) -> Any:
    """A value in main.bicep: a literal, or a variable's value."""
    variables = parse(MAIN).get("variables", {})
    if isinstance(expression, str) and expression in variables:
        return variables[expression]["value"]
    return expression


def _module_value(path: Path, expression: Any) -> Any:
    """A value inside a module: a parameter resolves to what main.bicep passes (or the parameter's default)."""
    if isinstance(expression, list):
        return [_module_value(path, item) for item in expression]
    if isinstance(expression, dict) and "function" in expression:
        function = expression["function"]
        if function["type"] == "concat":
            values: list[Any] = []
            for argument in function["parameters"].values():
                resolved = _module_value(path, argument)
                values.extend(resolved if isinstance(resolved, list) else [resolved])
            return values
        raise ValueError(f"{path.name}: cannot resolve function {function['type']}")
    parameters = parse(path).get("parameters", {})
    if isinstance(expression, str) and expression in parameters:
        _, passed = _module(path)
        if expression in passed:
            return _main_value(passed[expression])
        return parameters[expression].get("default")
    return expression


def _resources(of_type: str) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in bicep_files():
        for resource in parse(path).get("resources", {}).values():
            if resource["type"].lower() == of_type.lower() and not resource.get("existing"):
                found.append((path, resource))
    return found


def created_names(of_type: str) -> set[str]:
    """Names of the resources of a type (e.g. tables), loops expanded."""
    names: set[str] = set()
    for path, resource in _resources(of_type):
        config = resource["config"]
        loop = config.get("loop_type")
        body = config["config"] if "loop_type" in config or "condition" in config else config
        if loop is None:
            names.add(str(_module_value(path, body["name"])))
            continue
        item, items = loop["detail"]["item_name"], _module_value(path, loop["detail"]["array_name"])
        if not isinstance(items, list):
            raise ValueError(f"{path.name}: loop over {loop['detail']['array_name']!r} did not resolve to a list")
        for value in items:
            value = _module_value(path, value)
            name = body["name"]
            names.add(str(value) if name == item else name.replace("${" + item + "}", str(value)))
    return names


def app_setting_names() -> set[str]:
    """Every app setting the Function App gets: the keys of the 'appsettings' config resource, with the object
    parameters it merges (union) resolved to the object main.bicep passes."""
    names: set[str] = set()
    for path, resource in _resources("Microsoft.Web/sites/config"):
        body = resource["config"]
        if body.get("name") != "appsettings":
            continue
        properties = body["properties"]
        parts = properties["function"]["parameters"].values() if "function" in properties else [properties]
        for part in parts:
            value = _module_value(path, part)
            if not isinstance(value, dict):
                raise ValueError(f"{path.name}: app settings part {part!r} did not resolve to an object")
            names.update(value)
    return names


def _site(path: Path) -> dict[str, Any]:
    """The Function App (the module's one Microsoft.Web/sites resource)."""
    sites = [resource for found, resource in _resources("Microsoft.Web/sites") if found == path]
    if len(sites) != 1:
        raise LookupError(f"{path.name}: expected one Microsoft.Web/sites, found {len(sites)}")
    return sites[0]["config"]


def _evaluate(path: Path, expression: Any, main_parameters: dict[str, Any]) -> Any:
    """A value inside a module, evaluated as ARM would for one set of main.bicep parameters: a module variable is its
    value, a module parameter what main.bicep passes, a main.bicep parameter its given value or default. Literals,
    arrays, objects, `concat`, `a > b` and `c ? x : y` only; anything else raises."""
    if isinstance(expression, bool | int) or expression is None:
        return expression
    if isinstance(expression, list):
        return [_evaluate(path, item, main_parameters) for item in expression]
    if isinstance(expression, str):
        module_variables = parse(path).get("variables", {})
        if expression in module_variables:
            return _evaluate(path, module_variables[expression]["value"], main_parameters)
        module_parameters = parse(path).get("parameters", {})
        if expression in module_parameters:
            _, passed = _module(path)
            if expression not in passed:
                return module_parameters[expression].get("default")
            passed_expression = passed[expression]
            main_declared = parse(MAIN).get("parameters", {})
            if isinstance(passed_expression, str) and passed_expression in main_declared:
                if passed_expression in main_parameters:
                    return main_parameters[passed_expression]
                return main_declared[passed_expression].get("default")
            return _main_value(passed_expression)
        return expression
    if isinstance(expression, dict) and "function" in expression:
        function = expression["function"]
        if function["type"] == "concat":
            values: list[Any] = []
            for argument in function["parameters"].values():
                value = _evaluate(path, argument, main_parameters)
                if not isinstance(value, list):
                    raise ValueError(f"{path.name}: concat of a non-array {argument!r}")
                values.extend(value)
            return values
        raise ValueError(f"{path.name}: cannot evaluate function {function['type']}")
    if isinstance(expression, dict) and "operator" in expression:
        operator = expression["operator"]
        operands = operator["operands"]
        if operator["type"] == "conditional":
            chosen = "true_value" if _evaluate(path, operands["condition"], main_parameters) else "false_value"
            return _evaluate(path, operands[chosen], main_parameters)
        if operator["type"] == "greater_than":
            left, right = (_evaluate(path, operands[name], main_parameters) for name in ("operand_1", "operand_2"))
            return left > right
        raise ValueError(f"{path.name}: cannot evaluate operator {operator['type']}")
    if isinstance(expression, dict):
        return {key: _evaluate(path, value, main_parameters) for key, value in expression.items()}
    raise ValueError(f"{path.name}: cannot evaluate {expression!r}")


FUNCTION_APP = INFRA / "modules" / "functionapp.bicep"


def always_ready(main_parameters: dict[str, Any] | None = None) -> dict[str, int]:
    """The Function App's always-ready instances, {scale group or 'function:<name>': instanceCount}, as deployed with
    these main.bicep parameters (the rest at their defaults)."""
    scale = _site(FUNCTION_APP)["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    entries = _evaluate(FUNCTION_APP, scale.get("alwaysReady", []), main_parameters or {})
    found: dict[str, int] = {}
    for entry in entries:
        if set(entry) != {"name", "instanceCount"} or entry["name"] in found:
            raise ValueError(f"functionapp.bicep: alwaysReady entry {entry!r} is not one {{name, instanceCount}}")
        found[entry["name"]] = entry["instanceCount"]
    return found


SKIP_COMMENT = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::\s*(.*))?")


def checkov_suppressions() -> list[tuple[str, str, str]]:
    """(file, check id, reason) of every `checkov:skip=` in infra/."""
    found = []
    for path in bicep_files():
        for line in path.read_text().splitlines():
            match = SKIP_COMMENT.search(line)
            if match:
                found.append((path.name, match.group(1), (match.group(2) or "").strip()))
    return found
