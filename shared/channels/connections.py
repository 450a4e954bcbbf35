"""What a `channels` delivery talks to, made on first use: Graph (shared.channels.graph, one client per target and
process) and the process's Workflows sender for cards into the channel. Nothing here imports requests or
azure-identity until a delivery needs Graph. `graph_for(settings)` is the same client for a Teams activity
notification to one person (shared.contacts)."""

from __future__ import annotations

import threading
from typing import Any

from shared.core.settings import Settings
from shared.teams.workflow import WorkflowSender

_graphs: dict[Any, Any] = {}
_lock = threading.Lock()


class Connections:
    def __init__(self, settings: Settings, sender: WorkflowSender) -> None:
        self.settings = settings
        self.sender = sender

    def graph(self) -> Any:
        return graph_for(self.settings)

    def post_card(self, url: str, body: bytes) -> None:
        self.sender.post(url, body)


def graph_for(found: Settings, attempts: int | None = None) -> Any:
    """One Graph client per target, attempts and process (its session and token cache serve every call). A paged
    person's step tries once (`attempts=1`): its queue message is what waits and tries again, not the escalation."""
    from shared.channels.graph import ATTEMPTS, Graph, GraphTarget

    target = GraphTarget(
        found.graph_team_id,
        found.graph_tenant_id,
        found.graph_client_id,
        found.graph_client_secret,
        found.graph_url,
    )
    tries = attempts or ATTEMPTS
    with _lock:
        if (target, tries) not in _graphs:
            _graphs[(target, tries)] = Graph(target, attempts=tries)
        return _graphs[(target, tries)]
