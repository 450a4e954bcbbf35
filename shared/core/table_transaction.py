"""One Azure Tables transaction (an entity-group `$batch` of one changeset), its multipart body written and its answer
read here. `TableClient.submit_transaction` does both with azure-core's multipart code, built on the email package,
which costs more CPU than everything else the request does: a two-entity transaction took 3.8 ms of client CPU, and
1.0 ms this way, about what one upsert takes (`python -m bench.storage_request_cpu`); every incident save is one.

Only the multipart text is ours. The operations are made by the SDK's own TableBatchOperations (entity
serialisation, keys, conditions: what `submit_transaction` sends), and the request goes through the table client's
own pipeline (signing, retries, request hooks). Failures are what `submit_transaction` raises: TableTransactionError
naming the failed operation's index and error code (RequestTooLargeError for 413), and for a refused request the
SDK's own error for its code.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from email.utils import formatdate
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.data.tables import RequestTooLargeError, TableClient, TableTransactionError
from azure.data.tables._error import _decode_error  # the SDK's own mapping of a refused request (see above)
from azure.data.tables._table_batch import TableBatchOperations  # the SDK's own operation builder (see above)

_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ?(.*)$")
_BOUNDARY = re.compile(r"boundary=([^;\s]+)")


def submit_transaction(table: TableClient, operations: Iterable[Any]) -> list[dict[str, str]]:
    """Commit `operations` (as `TableClient.submit_transaction` takes them) as one transaction; each operation's
    response metadata in order (its `etag`)."""
    batch = TableBatchOperations(
        config=table._client._config,  # the SDK's own configuration for the requests it builds
        endpoint=table.url,
        table_name=table.table_name,
    )
    try:
        for operation in operations:
            batch.add_operation(operation)
    except TypeError as problem:
        raise TypeError("operations must be (operation, entity[, options]) tuples") from problem
    if not batch.requests:
        return []
    changeset, outer = f"changeset_{uuid.uuid4()}", f"batch_{uuid.uuid4()}"
    request = HttpRequest(
        "POST",
        f"{table.url}/$batch",
        headers={
            "x-ms-version": table.api_version,
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
            "Content-Type": f"multipart/mixed; boundary={outer}",
            "Accept": "application/json",
        },
        content=_body(batch.requests, changeset, outer),
    )
    # The table client's pipeline; streamed, as the SDK does, so its JSON decoding leaves the multipart answer alone.
    response = table._client.send_request(request, stream=True)
    try:
        body = response.read()
    finally:
        response.close()
    if response.status_code != 202:
        raise _refused(response)
    answers = _answers(body, response.headers.get("Content-Type", ""))
    if len(answers) != len(batch.requests) and not any(status >= 300 for status, _, _ in answers):
        raise HttpResponseError(f"a transaction of {len(batch.requests)} got {len(answers)} answers", response=response)
    for status, headers, error in answers:
        if status >= 300:
            raise _failed(status, headers, error)
    return [{"etag": headers["etag"]} if "etag" in headers else {} for _, headers, _ in answers]


def _body(requests: list[HttpRequest], changeset: str, outer: str) -> bytes:
    """The `$batch` body: one changeset holding each operation as an application/http part (CRLF lines, OData 3)."""
    date = formatdate(usegmt=True)
    parts = [f"--{outer}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n".encode()]
    for index, operation in enumerate(requests):
        content = operation.content or b""
        if isinstance(content, str):
            content = content.encode()
        headers = {**operation.headers, "Content-Length": str(len(content)), "x-ms-date": date, "Date": date}
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        parts.append(
            f"--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
            f"Content-ID: {index}\r\n\r\n{operation.method} {operation.url} HTTP/1.1\r\n{head}\r\n".encode()
        )
        parts.append(content + b"\r\n")
    parts.append(f"--{changeset}--\r\n\r\n--{outer}--\r\n".encode())
    return b"".join(parts)


def _answers(body: bytes, content_type: str) -> list[tuple[int, dict[str, str], bytes]]:
    """Each operation's (status, headers by lower-case name, body) from the `$batch` answer: the parts of the
    changeset the first part holds (a failed transaction answers with the one failed operation's part), or the first
    part itself when the service answered the whole batch with one (a batch-level error)."""
    outer = _BOUNDARY.search(content_type)
    if outer is None:
        raise HttpResponseError(f"a transaction answer with no multipart boundary ({content_type[:80]!r})")
    parts = body.split(b"--" + outer.group(1).encode())[1:]
    first = parts[0] if parts else b""
    head = re.split(rb"\r?\n\r?\n", first.lstrip(b"\r\n"), maxsplit=1)[0]  # the first part's own headers
    inner = re.search(rb"(?im)^content-type:\s*multipart/mixed;\s*boundary=([^;\s]+)", head)
    if inner is not None:
        parts = first.split(b"--" + inner.group(1))[1:]
    answers = []
    for part in parts:
        lines = part.replace(b"\r\n", b"\n").split(b"\n")
        found = next((i for i, line in enumerate(lines) if _STATUS_LINE.match(line)), None)
        if found is None:
            continue  # a closing delimiter
        status = int(_STATUS_LINE.match(lines[found]).group(1))  # type: ignore[union-attr]
        headers: dict[str, str] = {}
        end = found + 1
        while end < len(lines) and lines[end].strip():
            name, _, value = lines[end].decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
            end += 1
        answers.append((status, headers, b"\n".join(lines[end + 1 :]).strip()))
    return answers


def _failed(status: int, headers: dict[str, str], body: bytes) -> TableTransactionError:
    """The failed operation as `submit_transaction` reports it: the service's message starts with its index."""
    code, message = headers.get("x-ms-error-code"), body.decode("utf-8", "replace")
    try:
        error = json.loads(body)["odata.error"]
        code, message = error.get("code", code), error["message"]["value"]
    except (ValueError, KeyError, TypeError):
        pass
    kind = RequestTooLargeError if status == 413 else TableTransactionError
    failure = kind(message=message)
    failure.status_code, failure.error_code = status, code
    return failure


def _refused(response: Any) -> HttpResponseError:
    """The whole request refused (signing, throttling, storage down after the pipeline's retries): the error the SDK
    raises for it, by its code (ClientAuthenticationError, ResourceNotFoundError, …; all AzureErrors: the HTTP edge
    answers 503)."""
    if response.status_code == 413:
        return RequestTooLargeError(message="the transaction request was too large", response=response)
    return _decode_error(response)
