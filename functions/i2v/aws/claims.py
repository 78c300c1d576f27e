"""Which images job files name (DynamoDB, the control table; see i2v.steps.intake).

``claim#<key>`` records the job file that names an image key (its start or end frame);
``pending#<key>`` lists the image jobs of that key still waiting out their grace period, so a job
file arriving within it can withdraw them.
"""

from __future__ import annotations

import time
from typing import Any

from i2v import constants as c
from i2v.aws.clients import client
from i2v.aws.jobs_table import from_item, to_attribute

CLAIM_DAYS = 30  # a claim outlives any upload burst; DynamoDB's TTL removes it afterwards


class DynamoClaims:
    def __init__(self, table: str) -> None:
        self.table = table
        self.ddb = client("dynamodb")

    def _key(self, kind: str, key: str) -> dict[str, Any]:
        return {c.CONTROL_TABLE_KEY: {"S": f"{kind}#{key}"}}

    def _expiry(self) -> dict[str, str]:
        return {"N": str(int(time.time()) + CLAIM_DAYS * 86400)}

    def claim(self, key: str, job: dict[str, Any], redrive: int, row: dict[str, Any] | None) -> None:
        """``job``: the claiming job (to build it again when the image arrives); ``row``: a batch row's fields."""
        item = {**self._key("claim", key), "job": to_attribute(job), "redrive": {"N": str(redrive)},
                c.CONTROL_TTL_ATTRIBUTE: self._expiry()}
        if row is not None:
            item["row"] = to_attribute(row)
        self.ddb.put_item(TableName=self.table, Item=item)

    def claimant(self, key: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=self.table, Key=self._key("claim", key), ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def add_pending(self, key: str, job_id: str) -> None:
        self.ddb.update_item(TableName=self.table, Key=self._key("pending", key),
                             UpdateExpression="ADD ids :id SET #e = :e",
                             ExpressionAttributeNames={"#e": c.CONTROL_TTL_ATTRIBUTE},
                             ExpressionAttributeValues={":id": {"SS": [job_id]}, ":e": self._expiry()})

    def pending(self, key: str) -> set[str]:
        item = self.ddb.get_item(TableName=self.table, Key=self._key("pending", key), ConsistentRead=True).get("Item")
        return set(item["ids"]["SS"]) if item and "ids" in item else set()
