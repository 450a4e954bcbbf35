"""A module imported on first use: how a trigger module names the flows it calls without loading them when the app
loads. `import function_app` registers every function, so whatever a trigger module imports at its top every cold
start pays for, whichever function the instance woke for (README: Cold start).

    alert_intake = lazy("shared.incidents.alert_intake")  # at the top, named as the module
    ...
    intake = alert_intake.receive_alert(...)  # in the body: the first call imports it
"""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """Stands for the module `name`: every attribute read goes to the real module, which the first one imports.
    Thread-safe (the import system's module lock); once loaded, a read costs a sys.modules look-up."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"


def lazy(name: str) -> Any:
    """The module `name`, imported when an attribute of it is first read (typed Any: it stands for that module)."""
    return LazyModule(name)
