"""Deliver a storm as Azure Monitor's action group does: each alert at its moment, POSTed to /api/alerts, and
retried after a pause when the answer is one Azure Monitor retries (408, 429, 503, 504) or there is no answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from chaos.deliveries import Delivery

RETRIED = {408, 429, 503, 504}
CLIENTS = 16


@dataclass(frozen=True)
class Answer:
    delivery: Delivery
    status: int  # the last answer; 0: none (connection refused or reset, timeout)
    incident: str | None
    answered: float  # time.monotonic() of the last answer
    retried: int  # deliveries retried before it


def send(
    url: str, deliveries: Sequence[Delivery], *, retries: int = 5, pause: float = 0.5, started: float | None = None
) -> list[Answer]:
    """Every delivery at `started + delivery.at` (monotonic; default now), from CLIENTS keep-alive clients, each
    retried up to `retries` times `pause` seconds apart. Returns the answers in the order they came."""
    start = time.monotonic() if started is None else started
    pending = iter(deliveries)
    lock = threading.Lock()
    answers: list[Answer] = []

    def client() -> None:
        session = requests.Session()
        while True:
            with lock:
                delivery = next(pending, None)
            if delivery is None:
                return
            time.sleep(max(0.0, start + delivery.at - time.monotonic()))
            answer = _deliver(session, url, delivery, retries, pause)
            with lock:
                answers.append(answer)

    with ThreadPoolExecutor(CLIENTS, thread_name_prefix="azure-monitor") as pool:
        for future in [pool.submit(client) for _ in range(CLIENTS)]:
            future.result()
    return answers


def _deliver(session: requests.Session, url: str, delivery: Delivery, retries: int, pause: float) -> Answer:
    headers = {"Content-Type": "application/json"}
    for attempt in range(retries + 1):
        try:
            response = session.post(url, data=delivery.body, headers=headers, timeout=30)
            status = response.status_code
            incident = response.json().get("incident") if status == 202 else None
        except requests.RequestException:
            status, incident = 0, None
            session = requests.Session()  # the connection is gone; a retry opens a new one
        if status not in RETRIED and status != 0:
            break
        if attempt < retries:
            time.sleep(pause)
    return Answer(delivery, status, incident, time.monotonic(), attempt)
