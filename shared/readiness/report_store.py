"""Where the readiness report is kept: the private `postmortems` container (DESIGN: review drafts and the readiness
report), blob `readiness/report.html` — never `$web`, which the static website serves to anyone. Served only through
GET /api/readiness/report, behind the function key."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError

from shared.core.storage import StorageAccount
from shared.core.timeutil import iso, parse_instant

CONTAINER = "postmortems"
BLOB = "readiness/report.html"
CONTENT_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True)
class StoredReport:
    html: bytes
    rendered_at: datetime


class ReportStore:
    def __init__(self, account: StorageAccount) -> None:
        self._account = account

    def write(self, html: str, rendered_at: datetime) -> None:
        """Replace the report (a render is the whole page: the last one written is the newest figures)."""
        from azure.storage.blob import ContentSettings  # the blob SDK loads with its first use, not at cold start

        self._account.container(CONTAINER).upload_blob(
            BLOB,
            html.encode("utf-8"),
            overwrite=True,
            content_settings=ContentSettings(content_type=CONTENT_TYPE, cache_control="no-store"),
            metadata={"rendered_at": iso(rendered_at)},
        )

    def read(self) -> StoredReport | None:
        with contextlib.suppress(ResourceNotFoundError):
            download = self._account.container(CONTAINER).download_blob(BLOB)
            rendered = download.properties.metadata.get("rendered_at")
            html = download.readall()
            return StoredReport(html, parse_instant(rendered) if rendered else download.properties.last_modified)
        return None
