"""The jobs table: one item per job with its status, timings, task id, output and error.

Kept current by every function; read by `i2v jobs`. Writes are updates of named attributes, so
functions never overwrite each other's fields; the few that must happen once are conditional.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from i2v import constants as c
from i2v.aws.clients import client
from i2v.contracts.status import JobStatus

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def to_attribute(value: Any) -> dict[str, Any]:
    """A JSON-like value as a DynamoDB attribute (numbers as Decimal)."""
    serialized: dict[str, Any] = _SERIALIZER.serialize(json.loads(json.dumps(value), parse_float=Decimal))
    return serialized


def from_dynamo(value: Any) -> Any:
    """DynamoDB's Decimals back to plain ints and floats, recursively."""
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A low-level DynamoDB item as a plain dict."""
    return {k: from_dynamo(_DESERIALIZER.deserialize(v)) for k, v in item.items()}


def conflict(exc: ClientError) -> bool:
    """A condition that did not hold (someone else got there first), as opposed to a fault."""
    return exc.response.get("Error", {}).get("Code") in ("ConditionalCheckFailedException",
                                                          "TransactionCanceledException")


class JobsTable:
    def __init__(self, table_name: str, ddb: Any = None) -> None:
        """``ddb``: a DynamoDB client of one's own (another profile or endpoint), else the default."""
        self.table = table_name
        self.ddb = ddb if ddb is not None else client("dynamodb")

    def _key(self, job_id: str) -> dict[str, Any]:
        return {c.JOBS_TABLE_KEY: {"S": job_id}}

    def update(self, job_id: str, **fields: Any) -> None:
        """Set the given attributes (None values are skipped)."""
        self._update(job_id, fields)

    def _update(self, job_id: str, fields: Mapping[str, Any], condition: str | None = None,
                condition_values: Mapping[str, Any] | None = None) -> bool:
        fields = {k: v for k, v in fields.items() if v is not None}
        if not fields:
            return True
        names = {f"#{i}": k for i, k in enumerate(fields)}
        values = {f":{i}": to_attribute(v) for i, v in enumerate(fields.values())}
        kwargs: dict[str, Any] = {}
        if condition:
            kwargs["ConditionExpression"] = condition
            names["#status"] = "status"
            values.update({k: to_attribute(v) for k, v in (condition_values or {}).items()})
        try:
            self.ddb.update_item(TableName=self.table, Key=self._key(job_id),
                                 UpdateExpression="SET " + ", ".join(f"#{i} = :{i}" for i in range(len(fields))),
                                 ExpressionAttributeNames=names, ExpressionAttributeValues=values, **kwargs)
            return True
        except ClientError as exc:
            if condition and conflict(exc):
                return False
            raise

    def create(self, job_id: str, **fields: Any) -> bool:
        """Write the first record of a job (status RECEIVED); False when it already exists."""
        return self._update(job_id, {**fields, "status": JobStatus.RECEIVED.value},
                            condition="attribute_not_exists(#status)")

    def transition(self, job_id: str, expected: JobStatus, status: JobStatus, **fields: Any) -> bool:
        """Move the job to ``status`` only if it is still ``expected``."""
        return self._update(job_id, {**fields, "status": status.value}, condition="#status = :expected",
                            condition_values={":expected": expected.value})

    def dead_letter(self, job_id: str, **fields: Any) -> bool:
        """Mark a job whose event went to the dead-letter queue, unless it got further than RECEIVED."""
        return self._update(job_id, {**fields, "status": JobStatus.DEAD_LETTER.value},
                            condition="attribute_not_exists(#status) OR #status = :received",
                            condition_values={":received": JobStatus.RECEIVED.value})

    def _once(self, job_id: str, attribute: str, value: Any) -> bool:
        try:
            self.ddb.update_item(
                TableName=self.table, Key=self._key(job_id), UpdateExpression="SET #a = :v",
                ConditionExpression="attribute_not_exists(#a)",
                ExpressionAttributeNames={"#a": attribute}, ExpressionAttributeValues={":v": to_attribute(value)})
            return True
        except ClientError as exc:
            if conflict(exc):
                return False
            raise

    def _remove(self, job_id: str, attribute: str) -> None:
        self.ddb.update_item(TableName=self.table, Key=self._key(job_id), UpdateExpression="REMOVE #a",
                             ExpressionAttributeNames={"#a": attribute})

    def mark_submit_started(self, job_id: str, at: str) -> bool:
        """Record the intent to submit; False if an earlier attempt already got this far."""
        return self._once(job_id, "submit_started_at", at)

    def clear_submit_started(self, job_id: str) -> None:
        """Undo the intent when the provider certainly created no task (refused, 429, 5xx)."""
        self._remove(job_id, "submit_started_at")

    def claim_notification(self, job_id: str, at: str) -> bool:
        """Exactly one notification per job: only the first claim may publish."""
        return self._once(job_id, "notified_at", at)

    def unclaim_notification(self, job_id: str) -> None:
        self._remove(job_id, "notified_at")

    def get(self, job_id: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=self.table, Key=self._key(job_id), ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def scan(self, limit: int | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for item in self._pages():
            items.append(item)
            if limit and len(items) >= limit:
                break
        return items

    def _pages(self) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        while True:
            reply = self.ddb.scan(TableName=self.table, **kwargs)
            yield from (from_item(i) for i in reply.get("Items", []))
            if "LastEvaluatedKey" not in reply:
                return
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
