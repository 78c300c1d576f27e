"""The jobs table: one item per job with its status, timings, task id, output and error.

Kept current by all three functions; read by `i2v jobs`. Writes are updates of named
attributes so functions never overwrite each other's fields.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from i2v.aws.clients import resource

# Job statuses, in the order a job moves through them.
QUEUED, SUBMITTING, GENERATING, STORING, SUCCEEDED, FAILED = (
    "QUEUED", "SUBMITTING", "GENERATING", "STORING", "SUCCEEDED", "FAILED")


def _to_dynamo(value: Any) -> Any:
    return json.loads(json.dumps(value), parse_float=Decimal)


def from_dynamo(value: Any) -> Any:
    """DynamoDB's Decimals back to plain ints and floats, recursively."""
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class JobsTable:
    def __init__(self, table_name: str, table=None) -> None:
        """``table``: a boto3 Table resource of one's own (another profile or endpoint), else the default."""
        self.table = table if table is not None else resource("dynamodb").Table(table_name)

    def update(self, job_id: str, **fields: Any) -> None:
        """Set the given attributes (None values are skipped)."""
        fields = {k: v for k, v in fields.items() if v is not None}
        if not fields:
            return
        names = {f"#{i}": k for i, k in enumerate(fields)}
        values = {f":{i}": _to_dynamo(v) for i, v in enumerate(fields.values())}
        self.table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="SET " + ", ".join(f"#{i} = :{i}" for i in range(len(fields))),
            ExpressionAttributeNames=names, ExpressionAttributeValues=values,
        )

    def _conditional(self, job_id: str, attribute: str, value: Any) -> bool:
        try:
            self.table.update_item(
                Key={"job_id": job_id}, UpdateExpression="SET #a = :v",
                ConditionExpression="attribute_not_exists(#a)",
                ExpressionAttributeNames={"#a": attribute}, ExpressionAttributeValues={":v": _to_dynamo(value)},
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def mark_submit_started(self, job_id: str, at: str) -> bool:
        """Record the intent to submit; False if an earlier attempt already got this far."""
        return self._conditional(job_id, "submit_started_at", at)

    def clear_submit_started(self, job_id: str) -> None:
        """Undo the intent when the provider certainly created no task (refused, 429, 5xx)."""
        self.table.update_item(Key={"job_id": job_id}, UpdateExpression="REMOVE submit_started_at")

    def claim_notification(self, job_id: str, at: str) -> bool:
        """Exactly one notification per job: only the first claim may publish."""
        return self._conditional(job_id, "notified_at", at)

    def unclaim_notification(self, job_id: str) -> None:
        self.table.update_item(Key={"job_id": job_id}, UpdateExpression="REMOVE notified_at")

    def get(self, job_id: str) -> dict | None:
        item = self.table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        return from_dynamo(item) if item else None

    def scan(self, limit: int | None = None) -> list[dict]:
        items, kwargs = [], {}
        while True:
            reply = self.table.scan(**kwargs)
            items.extend(from_dynamo(i) for i in reply.get("Items", []))
            if "LastEvaluatedKey" not in reply or (limit and len(items) >= limit):
                return items[:limit] if limit else items
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
