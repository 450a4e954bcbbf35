"""The HTTP session the Azure Storage clients send through when no proxy is set: requests' Session without what a
storage request never uses — cookies, the environment look-up and redirects (the SDK pipelines' own RedirectPolicy
follows those) — so a request is prepared and handed to the connection pool directly. `Session.request` merges
cookies, settings and hooks on every call: about an eighth of a table request's client CPU
(`python -m bench.storage_request_cpu`)."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

# Connections kept per storage endpoint: a queue function runs up to 24 messages at once (host.json batchSize 16 plus
# newBatchThreshold 8), some with three storage requests at once, and a process may run several functions.
POOL_SIZE = 64


class StorageSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False  # what azure-core's use_env_settings=False does to the session it makes
        # As azure-core mounts its own: the SDK pipeline retries, never urllib3. The pool keeps as many connections
        # as requests go at once: requests' default of 10 made a delivery chaos run discard and open again 82.
        never_retried = Retry(total=False, redirect=False, raise_on_status=False)
        adapter = HTTPAdapter(pool_maxsize=POOL_SIZE, max_retries=never_retried)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(  # type: ignore[override]  # called by azure-core's RequestsTransport with these keywords only
        self,
        method: str,
        url: str,
        *,
        headers: Any = None,
        data: Any = None,
        files: Any = None,
        verify: bool | str = True,
        timeout: Any = None,
        cert: Any = None,
        proxies: Any = None,
        stream: bool = False,
        allow_redirects: bool = False,
        **unused: Any,
    ) -> requests.Response:
        if allow_redirects:
            raise ValueError("a storage request never follows redirects here: the SDK pipeline does")
        prepared = requests.PreparedRequest()
        prepared.prepare(method=method, url=url, headers=headers, files=files, data=data)
        adapter = self.get_adapter(prepared.url or url)
        response = adapter.send(
            prepared, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies or {}
        )
        if not stream:
            response.content  # noqa: B018  # read now, as Session.send does: the connection goes back to its pool
        return response
