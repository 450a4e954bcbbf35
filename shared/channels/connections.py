"""What a `channels` delivery talks to, made on first use: Graph (shared.channels.graph, one client per target and
process) and the process's Workflows sender for cards into the channel. Nothing here imports requests or
azure-identity until a delivery needs Graph."""

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
        from shared.channels.graph import Graph, GraphTarget

        found = self.settings
        target = GraphTarget(
            found.graph_team_id,
            found.graph_tenant_id,
            found.graph_client_id,
            found.graph_client_secret,
            found.graph_url,
        )
        with _lock:
            if target not in _graphs:
                _graphs[target] = Graph(target)
            return _graphs[target]

    def post_card(self, url: str, body: bytes) -> None:
        self.sender.post(url, body)
