"""Read triggers and bindings from the app's own FunctionApp object: the only registry of routes and queues."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: Callable[..., Any]
    trigger: dict[str, Any]
    outputs: tuple[dict[str, Any], ...] = field(default=())

    @property
    def trigger_type(self) -> str:
        return self.trigger["type"]


def resolve_setting(value: str) -> str:
    """Binding values may name an app setting as %NAME%, as in Azure."""
    return re.sub(r"%([^%]+)%", lambda match: os.environ.get(match.group(1), ""), value)


@functools.cache
def discover(app: func.FunctionApp) -> list[FunctionSpec]:
    """Cached: the SDK's get_functions() indexes the app and refuses to be asked twice in one process."""
    specs = []
    for function in app.get_functions():
        bindings = json.loads(function.get_function_json())["bindings"]
        trigger = next(binding for binding in bindings if binding["type"].endswith("Trigger"))
        outputs = tuple(b for b in bindings if b["direction"] == "OUT" and b["name"] != "$return")
        specs.append(
            FunctionSpec(
                name=function.get_function_name(),
                handler=function.get_user_function(),
                trigger=trigger,
                outputs=outputs,
            )
        )
    return specs


def by_trigger(specs: list[FunctionSpec], trigger_type: str) -> list[FunctionSpec]:
    return [spec for spec in specs if spec.trigger_type == trigger_type]
