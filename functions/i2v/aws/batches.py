"""The batch ledger (see i2v.batch) in DynamoDB: one item ``batch#<id>`` in the control table."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from i2v import constants as c
from i2v.aws.clients import client
from i2v.aws.jobs_table import conflict, from_item, to_attribute
from i2v.batch import MAX_LISTED_FAILURES, RowEnd

LEDGER_DAYS = 90


class DynamoLedger:
    def __init__(self, table: str) -> None:
        self.table = table
        self.ddb = client("dynamodb")

    def _key(self, batch_id: str) -> dict[str, Any]:
        return {c.CONTROL_TABLE_KEY: {"S": f"batch#{batch_id}"}}

    def open(self, batch_id: str, *, total: int, source: Mapping[str, Any], summary_key: str,
             uploaded_at: str) -> int:
        try:
            self.ddb.put_item(
                TableName=self.table, ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": c.CONTROL_TABLE_KEY},
                Item={**self._key(batch_id), "batch_id": {"S": batch_id}, "total": {"N": str(total)},
                      "ended": {"N": "0"}, "succeeded": {"N": "0"}, "failed": {"N": "0"}, "cost_usd": {"N": "0"},
                      "codes": {"M": {}}, "failures": {"L": []}, "source": to_attribute(dict(source)),
                      "summary_key": {"S": summary_key}, "uploaded_at": {"S": uploaded_at}, "fanned": {"N": "0"},
                      c.CONTROL_TTL_ATTRIBUTE: {"N": str(int(time.time()) + LEDGER_DAYS * 86400)}})
            return 0
        except ClientError as exc:
            if not conflict(exc):
                raise
        item = self.ddb.get_item(TableName=self.table, Key=self._key(batch_id), ConsistentRead=True).get("Item") or {}
        return int(item["fanned"]["N"]) if "fanned" in item else total  # a ledger from before progress was kept

    def fanned_out(self, batch_id: str, rows: int) -> None:
        try:
            self.ddb.update_item(TableName=self.table, Key=self._key(batch_id), UpdateExpression="SET fanned = :n",
                                 ConditionExpression="fanned < :n", ExpressionAttributeValues={":n": {"N": str(rows)}})
        except ClientError as exc:
            if not conflict(exc):  # a concurrent duplicate got further: its progress stands
                raise

    def record(self, end: RowEnd) -> dict[str, Any] | None:
        outcome = "succeeded" if end.succeeded else "failed"
        names = {"#o": outcome}
        values: dict[str, Any] = {":one": {"N": "1"}, ":cost": to_attribute(end.cost_usd)}
        expression = "ADD ended :one, #o :one, cost_usd :cost"
        if not end.succeeded:  # listed before it is counted: the last row's summary sees every listed failure
            self._list_failure(end)
        if not end.succeeded and end.code:
            expression += ", codes.#code :one"
            names["#code"] = end.code
        reply = self.ddb.update_item(TableName=self.table, Key=self._key(end.batch_id), UpdateExpression=expression,
                                     ExpressionAttributeNames=names, ExpressionAttributeValues=values,
                                     ReturnValues="ALL_NEW")
        ledger = from_item(reply["Attributes"])
        if int(ledger["ended"]) < int(ledger["total"]):
            return None
        try:  # the last row: exactly one caller sends the summary
            reply = self.ddb.update_item(
                TableName=self.table, Key=self._key(end.batch_id), UpdateExpression="SET completed = :t",
                ConditionExpression="attribute_not_exists(completed)",
                ExpressionAttributeValues={":t": {"S": end.job_id}}, ReturnValues="ALL_NEW")
        except ClientError as exc:
            if conflict(exc):
                return None
            raise
        return from_item(reply["Attributes"])

    def _list_failure(self, end: RowEnd) -> None:
        failure = {"row": end.row, "job_id": end.job_id, "code": end.code, "message": end.message}
        try:
            self.ddb.update_item(
                TableName=self.table, Key=self._key(end.batch_id),
                UpdateExpression="SET failures = list_append(failures, :f)",
                ConditionExpression="size(failures) < :max",
                ExpressionAttributeValues={":f": {"L": [to_attribute(failure)]},
                                           ":max": {"N": str(MAX_LISTED_FAILURES)}})
        except ClientError as exc:
            if not conflict(exc):
                raise
