"""shared.core.table_transaction against Azurite: it commits and fails exactly as TableClient.submit_transaction does
(the same metadata, the same error types, indexes and codes, nothing written on a failure)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.data.tables import TableTransactionError, UpdateMode

from shared.core.table_transaction import submit_transaction

Submit = Callable[[Any, list[Any]], list[dict[str, str]]]
WAYS: dict[str, Submit] = {
    "firebell": submit_transaction,
    "sdk": lambda table, operations: table.submit_transaction(operations),
}


@pytest.fixture(params=sorted(WAYS))
def way(request) -> Submit:
    return WAYS[request.param]


@pytest.fixture
def table(storage_account):
    return storage_account.table("transactions")


def _row(key: str, **values: Any) -> dict[str, Any]:
    return {"PartitionKey": "incident", "RowKey": key, **values}


def test_a_transaction_writes_every_operation_and_answers_each_etag(table, way):
    table.upsert_entity(_row("kept", note="before"))
    etag = table.get_entity("incident", "kept").metadata["etag"]
    when = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    answers = way(
        table,
        [
            ("create", _row("INC-1", title="Checkout 5xx — ünïcode", at=when, count=3, ratio=0.5, flag=True)),
            ("upsert", _row("open-INC-1", title="copy")),
            ("update", _row("kept", note="after"), {"mode": UpdateMode.MERGE, "etag": etag, **_IF_UNCHANGED}),
        ],
    )
    stored = {key: table.get_entity("incident", key) for key in ("INC-1", "open-INC-1", "kept")}
    assert [answer["etag"] for answer in answers] == [stored[key].metadata["etag"] for key in stored]
    assert dict(stored["INC-1"]) == _row(
        "INC-1", title="Checkout 5xx — ünïcode", at=when, count=3, ratio=0.5, flag=True
    )
    assert stored["kept"]["note"] == "after"


_IF_UNCHANGED = {"match_condition": MatchConditions.IfNotModified}


def test_an_operation_that_fails_names_its_index_and_code_and_nothing_is_written(table, way):
    table.create_entity(_row("INC-1"))
    with pytest.raises(TableTransactionError) as failure:
        way(table, [("upsert", _row("open-INC-1")), ("create", _row("INC-1")), ("upsert", _row("page-1"))])
    assert (failure.value.index, failure.value.error_code, failure.value.status_code) == (
        1,
        "EntityAlreadyExists",
        409,
    )
    assert sorted(entity["RowKey"] for entity in table.list_entities()) == ["INC-1"]


def test_a_stale_etag_fails_as_a_lost_race(table, way):
    table.upsert_entity(_row("INC-1", version=1))
    stale = table.get_entity("incident", "INC-1").metadata["etag"]
    table.upsert_entity(_row("INC-1", version=2))
    with pytest.raises(TableTransactionError) as failure:
        way(table, [("update", _row("INC-1", version=3), {"mode": UpdateMode.REPLACE, "etag": stale, **_IF_UNCHANGED})])
    assert (failure.value.index, failure.value.error_code) == (0, "UpdateConditionNotSatisfied")
    assert table.get_entity("incident", "INC-1")["version"] == 2


def test_deleting_a_row_that_is_not_there_fails_with_resource_not_found(table, way):
    with pytest.raises(TableTransactionError) as failure:
        way(table, [("upsert", _row("a")), ("delete", _row("gone"))])
    assert (failure.value.index, failure.value.error_code) == (1, "ResourceNotFound")


def test_a_table_that_does_not_exist_is_named_in_the_failure(storage_account, way):
    missing = storage_account.table_service.get_table_client("neverCreated")
    with pytest.raises(TableTransactionError) as failure:
        way(missing, [("upsert", _row("a"))])
    assert (failure.value.index, failure.value.error_code) == (0, "TableNotFound")


def test_operations_of_two_partitions_are_refused_before_anything_is_sent(table, way):
    with pytest.raises(ValueError, match="Partition"):
        way(table, [("upsert", _row("a")), ("upsert", {"PartitionKey": "other", "RowKey": "b"})])
    assert list(table.list_entities()) == []


def test_a_request_refused_whole_raises_what_the_sdk_raises(storage_account, way):
    from azure.core.exceptions import HttpResponseError

    from shared.core.storage import StorageAccount

    forged = storage_account.connection_string.replace("AccountKey=", "AccountKey=AAAA")
    table = StorageAccount(forged).table_service.get_table_client("transactions")
    with pytest.raises(HttpResponseError) as failure:
        way(table, [("upsert", _row("a"))])
    assert (type(failure.value), failure.value.status_code, failure.value.error_code) == (
        HttpResponseError,
        403,
        "AuthorizationFailure",
    )


def test_a_batch_answered_whole_with_one_error_part_names_its_status_and_code():
    from shared.core.table_transaction import _answers, _failed

    body = (
        b"--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json;odata=minimalmetadata\r\n\r\n"
        b'{"odata.error":{"code":"InvalidInput","message":{"value":"0:Bad multipart: boundary=changeset_x"}}}\r\n'
        b"--batchresponse_1--\r\n"
    )
    ((status, headers, error),) = _answers(body, "multipart/mixed; boundary=batchresponse_1")
    failure = _failed(status, headers, error)
    assert (status, failure.index, failure.error_code) == (400, 0, "InvalidInput")
