"""DynamoDB LeaseStore for the in-flight slots and rate tokens (see i2v.capacity)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from i2v.aws.clients import client
from i2v.capacity import Lease


class DynamoLeaseStore:
    def __init__(self, table: str) -> None:
        self.table = table
        self.ddb = client("dynamodb")

    def read(self, items: list[str]) -> dict[str, Lease]:
        out: dict[str, Lease] = {}
        for start in range(0, len(items), 100):
            keys = [{"pk": {"S": i}} for i in items[start:start + 100]]
            request = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                reply = self.ddb.batch_get_item(RequestItems=request)
                for row in reply["Responses"].get(self.table, []):
                    holder = row.get("holder", {}).get("S")
                    out[row["pk"]["S"]] = Lease(row["pk"]["S"], holder, float(row.get("until", {}).get("N", "0")))
                request = reply.get("UnprocessedKeys") or None
        return out

    def try_take(self, item: str, holder: str, until: float, now: float) -> bool:
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"pk": {"S": item}},
                UpdateExpression="SET holder = :h, #u = :u, expires_at = :e",
                ConditionExpression="attribute_not_exists(holder) OR #u <= :now",
                ExpressionAttributeNames={"#u": "until"},
                ExpressionAttributeValues={":h": {"S": holder}, ":u": {"N": repr(until)},
                                           ":now": {"N": repr(now)}, ":e": {"N": str(int(until) + 86400)}},
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def give_back(self, item: str, holder: str) -> bool:
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"pk": {"S": item}},
                UpdateExpression="REMOVE holder SET #u = :zero",
                ConditionExpression="holder = :h",
                ExpressionAttributeNames={"#u": "until"},
                ExpressionAttributeValues={":h": {"S": holder}, ":zero": {"N": "0"}},
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
