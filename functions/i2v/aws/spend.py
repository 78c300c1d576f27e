"""The spend ledger (i2v.spend) in DynamoDB: items ``spend#day#<date>`` and ``spend#month#<month>`` in the
control table, both moved by one transaction whose conditions are the budgets."""

from __future__ import annotations

import random
import time
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from i2v import constants as c
from i2v.aws.clients import client
from i2v.aws.jobs_table import conflict
from i2v.spend import Budget, Periods

KEEP_DAYS = 400
TRIES = 4  # a transaction cancelled by another one on the same items (not by a budget) is tried again


def _n(value: float) -> dict[str, str]:
    return {"N": str(Decimal(repr(round(value, 6))))}


class DynamoSpend:
    def __init__(self, table: str) -> None:
        self.table = table
        self.ddb = client("dynamodb")

    def _key(self, period: str, name: str) -> dict[str, Any]:
        return {c.CONTROL_TABLE_KEY: {"S": f"spend#{period}#{name}"}}

    def _add(self, period: str, name: str, usd: float, limit: float | None) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.table, "Key": self._key(period, name), "UpdateExpression": "ADD usd :p SET #e = :e",
            "ExpressionAttributeNames": {"#e": c.CONTROL_TTL_ATTRIBUTE},
            "ExpressionAttributeValues": {":p": _n(usd), ":e": {"N": str(int(time.time()) + KEEP_DAYS * 86400)}}}
        if limit is not None:  # after adding, at most the limit
            update["ConditionExpression"] = "attribute_not_exists(usd) OR usd <= :room"
            update["ExpressionAttributeValues"][":room"] = _n(limit - usd)
        return {"Update": update}

    def reserve(self, usd: float, periods: Periods, budget: Budget) -> str | None:
        for name, limit in (("day", budget.daily_usd), ("month", budget.monthly_usd)):
            if limit is not None and usd > limit:
                return name
        for attempt in range(1, TRIES + 1):
            try:
                self.ddb.transact_write_items(TransactItems=[
                    self._add("day", periods.day, usd, budget.daily_usd),
                    self._add("month", periods.month, usd, budget.monthly_usd)])
                return None
            except ClientError as exc:
                if not conflict(exc):
                    raise
                reasons = exc.response.get("CancellationReasons") or []
                full = [n for n, r in zip(("day", "month"), reasons, strict=False)
                        if r.get("Code") == "ConditionalCheckFailed"]
                if full:
                    return full[0]
                # Cancelled for another reason (TransactionConflict: another dispatcher's reservation on
                # the same items at the same moment): the budget said nothing yet, so ask again.
                if attempt == TRIES:
                    raise
                time.sleep(random.uniform(0, 0.05 * attempt))  # noqa: S311 - jitter, not a secret
        raise AssertionError("unreachable")

    def refund(self, usd: float, periods: Periods) -> None:
        for period, name in (("day", periods.day), ("month", periods.month)):
            self.ddb.update_item(TableName=self.table, Key=self._key(period, name), UpdateExpression="ADD usd :p",
                                 ExpressionAttributeValues={":p": _n(-usd)})

    def totals(self, periods: Periods) -> tuple[float, float]:
        out = []
        for period, name in (("day", periods.day), ("month", periods.month)):
            item = self.ddb.get_item(TableName=self.table, Key=self._key(period, name),
                                     ConsistentRead=True).get("Item") or {}
            out.append(float(item.get("usd", {}).get("N", "0")))
        return out[0], out[1]
