"""DynamoDB LeaseStore for the in-flight slots and rate tokens (see i2v.capacity)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from i2v import constants as c
from i2v.aws.clients import client
from i2v.aws.jobs_table import conflict
from i2v.backoff import backoff
from i2v.capacity import Lease

MAX_UNPROCESSED_TRIES = 8
_RNG = random.Random()


class DynamoLeaseStore:
    def __init__(self, table: str, sleep: Callable[[float], None] = time.sleep, ddb: Any = None) -> None:
        """``ddb``: a DynamoDB client of one's own (another profile or endpoint), else the default."""
        self.table = table
        self.ddb = ddb if ddb is not None else client("dynamodb")
        self.sleep = sleep

    def _key(self, item: str) -> dict[str, Any]:
        return {c.CONTROL_TABLE_KEY: {"S": item}}

    def read(self, items: list[str]) -> dict[str, Lease]:
        out: dict[str, Lease] = {}
        for start in range(0, len(items), 100):
            request: dict[str, Any] | None = {
                self.table: {"Keys": [self._key(i) for i in items[start:start + 100]], "ConsistentRead": True}}
            tries = 0
            while request:
                if tries:  # DynamoDB left some keys unread (throttling): back off before asking again
                    if tries >= MAX_UNPROCESSED_TRIES:
                        raise RuntimeError(f"DynamoDB left keys of {self.table} unprocessed {tries} times")
                    self.sleep(backoff(tries, base=0.05, cap=2.0, rng=_RNG))
                reply = self.ddb.batch_get_item(RequestItems=request)
                for row in reply["Responses"].get(self.table, []):
                    name = row[c.CONTROL_TABLE_KEY]["S"]
                    out[name] = Lease(name, row.get("holder", {}).get("S"), float(row.get("until", {}).get("N", "0")))
                request = reply.get("UnprocessedKeys") or None
                tries += 1
        return out

    def try_take(self, item: str, holder: str, until: float, now: float) -> bool:
        try:
            self.ddb.update_item(
                TableName=self.table, Key=self._key(item),
                UpdateExpression="SET holder = :h, #u = :u, #e = :e",
                ConditionExpression="attribute_not_exists(holder) OR #u <= :now",
                ExpressionAttributeNames={"#u": "until", "#e": c.CONTROL_TTL_ATTRIBUTE},
                ExpressionAttributeValues={":h": {"S": holder}, ":u": {"N": repr(until)},
                                           ":now": {"N": repr(now)}, ":e": {"N": str(int(until) + 86400)}},
            )
            return True
        except ClientError as exc:
            if conflict(exc):
                return False
            raise

    def give_back(self, item: str, holder: str) -> bool:
        try:
            self.ddb.update_item(
                TableName=self.table, Key=self._key(item),
                UpdateExpression="REMOVE holder SET #u = :zero",
                ConditionExpression="holder = :h",
                ExpressionAttributeNames={"#u": "until"},
                ExpressionAttributeValues={":h": {"S": holder}, ":zero": {"N": "0"}},
            )
            return True
        except ClientError as exc:
            if conflict(exc):
                return False
            raise
