"""The content registry (i2v.contents) in DynamoDB: one item ``content#<key>`` in the control table."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from i2v import constants as c
from i2v.aws.clients import client
from i2v.aws.jobs_table import conflict, from_item, to_attribute
from i2v.contents import DONE, PENDING, Origin

KEEP_DAYS = 365


class DynamoContents:
    def __init__(self, table: str) -> None:
        self.table = table
        self.ddb = client("dynamodb")

    def _key(self, content_key: str) -> dict[str, Any]:
        return {c.CONTROL_TABLE_KEY: {"S": f"content#{content_key}"}}

    def _conditional(self, **kwargs: Any) -> bool:
        try:
            self.ddb.update_item(TableName=self.table, **kwargs) if "UpdateExpression" in kwargs \
                else self.ddb.delete_item(TableName=self.table, **kwargs)
            return True
        except ClientError as exc:
            if conflict(exc):
                return False
            raise

    def find(self, content_key: str) -> Origin | None:
        item = self.ddb.get_item(TableName=self.table, Key=self._key(content_key), ConsistentRead=True).get("Item")
        return Origin.from_dict(from_item(item)) if item else None

    def produce(self, content_key: str, job_id: str, until: float, now: float) -> bool:
        return self._conditional(
            Key=self._key(content_key),
            UpdateExpression="SET content_key = :k, job_id = :j, #s = :pending, #u = :until, #e = :e",
            ConditionExpression="attribute_not_exists(#s) OR job_id = :j OR (#s = :pending AND #u <= :now)",
            ExpressionAttributeNames={"#s": "state", "#u": "until", "#e": c.CONTROL_TTL_ATTRIBUTE},
            ExpressionAttributeValues={":k": {"S": content_key}, ":j": {"S": job_id}, ":pending": {"S": PENDING},
                                       ":until": {"N": repr(until)}, ":now": {"N": repr(now)},
                                       ":e": {"N": str(int(time.time()) + KEEP_DAYS * 86400)}})

    def done(self, origin: Origin) -> bool:
        fields = {"bucket": origin.bucket, "key": origin.key, "version_id": origin.version_id,
                  "size_bytes": origin.size_bytes, "price_usd": origin.price_usd}
        fields = {k: v for k, v in fields.items() if v is not None}
        names = {f"#f{i}": k for i, k in enumerate(fields)} | {"#s": "state"}
        values = {f":f{i}": to_attribute(v) for i, v in enumerate(fields.values())}
        return self._conditional(
            Key=self._key(origin.content_key),
            UpdateExpression="SET #s = :done" + "".join(f", #f{i} = :f{i}" for i in range(len(fields))),
            ConditionExpression="job_id = :j", ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, ":done": {"S": DONE}, ":j": {"S": origin.job_id}})

    def release(self, content_key: str, job_id: str) -> None:
        self._conditional(Key=self._key(content_key), ConditionExpression="job_id = :j AND #s = :pending",
                          ExpressionAttributeNames={"#s": "state"},
                          ExpressionAttributeValues={":j": {"S": job_id}, ":pending": {"S": PENDING}})

    def forget(self, content_key: str, job_id: str) -> None:
        self._conditional(Key=self._key(content_key), ConditionExpression="job_id = :j AND #s = :done",
                          ExpressionAttributeNames={"#s": "state"},
                          ExpressionAttributeValues={":j": {"S": job_id}, ":done": {"S": DONE}})
