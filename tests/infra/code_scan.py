"""What the code uses, found by reading it (ast), not by a list kept beside it: the settings it reads and the
tables, queues and containers it names. Scans shared/ and functions/ recursively (and function_app.py), so modules
moved into subpackages are still seen."""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("shared", "functions")


def python_files() -> list[Path]:
    files = [ROOT / "function_app.py"]
    for folder in SCANNED:
        files.extend(sorted((ROOT / folder).rglob("*.py")))
    return [path for path in files if path.is_file()]


@dataclass
class CodeUse:
    settings: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # name -> files
    tables: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    queues: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    containers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def _string_constants(trees: dict[Path, ast.Module]) -> tuple[dict[Path, dict[str, set[str]]], dict[str, set[str]]]:
    """NAME = "text" and A, B = "a", "b" assignments, per file and across all files (for imported names)."""
    per_file: dict[Path, dict[str, set[str]]] = {}
    everywhere: dict[str, set[str]] = defaultdict(set)
    for path, tree in trees.items():
        local: dict[str, set[str]] = defaultdict(set)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            for target in targets:
                pairs: list[tuple[ast.expr, ast.expr]] = []
                if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
                    pairs = list(zip(target.elts, value.elts, strict=False))
                else:
                    pairs = [(target, value)]
                for name, text in pairs:
                    if isinstance(name, ast.Name) and isinstance(text, ast.Constant) and isinstance(text.value, str):
                        local[name.id].add(text.value)
                        everywhere[name.id].add(text.value)
        per_file[path] = local
    return per_file, everywhere


def _is_environment(node: ast.expr) -> bool:
    """os.environ, environ, env, environment (how the code names the settings mapping)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ"
    return isinstance(node, ast.Name) and node.id in ("environ", "env", "environment")


def _reads_setting(function: ast.expr) -> bool:
    """environ.get(...), env.pop(...), os.getenv(...), getenv(...)."""
    if isinstance(function, ast.Attribute) and function.attr in ("get", "pop"):
        return _is_environment(function.value)
    if isinstance(function, ast.Attribute):
        return function.attr == "getenv"
    return isinstance(function, ast.Name) and function.id == "getenv"


def scan() -> CodeUse:
    trees = {path: ast.parse(path.read_text(), filename=str(path)) for path in python_files()}
    per_file, everywhere = _string_constants(trees)
    use = CodeUse()

    for path, tree in trees.items():
        where = str(path.relative_to(ROOT))

        def strings(node: ast.expr | None, _path: Path = path) -> set[str]:
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                return {node.value}
            # Only CONSTANT names resolve: a lower-case name is a parameter or a loop variable, whose value the
            # scan cannot know (the constants it ranges over are found where they are used by name).
            if isinstance(node, ast.Name) and node.id.isupper():
                return per_file[_path].get(node.id) or everywhere.get(node.id, set())
            if isinstance(node, ast.Attribute) and node.attr.isupper():  # module.CONSTANT
                return everywhere.get(node.attr, set())
            return set()

        for name, values in per_file[path].items():
            if name.endswith("_SETTING"):
                for value in values:
                    use.settings[value].add(where)

        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and _is_environment(node.value):
                for value in strings(node.slice):
                    use.settings[value].add(where)
            if not isinstance(node, ast.Call):
                continue
            function = node.func
            first = node.args[0] if node.args else None
            if _reads_setting(function):
                for value in strings(first):
                    use.settings[value].add(where)
            for keyword in node.keywords:
                if keyword.arg == "connection":  # binding connection setting, e.g. connection="AzureWebJobsStorage"
                    for value in strings(keyword.value):
                        use.settings[value].add(where)
                if keyword.arg == "queue_name":
                    for value in strings(keyword.value):
                        use.queues[value].add(where)
                if keyword.arg in ("table_name", "container_name"):
                    target = use.tables if keyword.arg == "table_name" else use.containers
                    for value in strings(keyword.value):
                        target[value].add(where)
            if isinstance(function, ast.Attribute):
                kind = {
                    "table": use.tables,
                    "get_table_client": use.tables,
                    "create_table": use.tables,
                    "queue": use.queues,
                    "get_queue_client": use.queues,
                    "container": use.containers,
                    "get_container_client": use.containers,
                }.get(function.attr)
                if kind is not None:
                    for value in strings(first):
                        kind[value].add(where)
    return use
