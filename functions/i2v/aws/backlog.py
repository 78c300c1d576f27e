"""The backlog (see i2v.backlog) in DynamoDB: the jobs table's sparse index plus a counter.

A waiting job carries ``backlog_lane`` (its priority) and ``backlog_order`` (upload time, job id),
so it appears in the ``backlog`` GSI; leaving removes both. Parking and leaving also move a counter
item in the control table, in the same transaction, so the backlog's size is one read at any size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from i2v import constants as c
from i2v.aws.clients import client
from i2v.aws.jobs_table import conflict, from_item, to_attribute
from i2v.backlog import LANES, Waiting
from i2v.contracts.status import JobStatus, Priority

COUNTER_KEY = "backlog#count"


class DynamoBacklog:
    def __init__(self, jobs_table: str, control_table: str) -> None:
        self.jobs_table = jobs_table
        self.control_table = control_table
        self.ddb = client("dynamodb")

    def _counter(self, delta: int) -> dict[str, Any]:
        return {"Update": {"TableName": self.control_table, "Key": {c.CONTROL_TABLE_KEY: {"S": COUNTER_KEY}},
                           "UpdateExpression": "ADD n :d", "ExpressionAttributeValues": {":d": {"N": str(delta)}}}}

    def _set_if(self, job_id: str, values: Mapping[str, Any], expected: JobStatus,
                remove: str = "") -> dict[str, Any]:
        """An update of the job's record that sets ``values`` only while its status is ``expected``."""
        return {"TableName": self.jobs_table, "Key": {c.JOBS_TABLE_KEY: {"S": job_id}},
                "UpdateExpression": "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(values)))
                + (f" REMOVE {remove}" if remove else ""),
                "ConditionExpression": "#status = :expected",
                "ExpressionAttributeNames": {**{f"#f{i}": k for i, k in enumerate(values)}, "#status": "status"},
                "ExpressionAttributeValues": {**{f":f{i}": to_attribute(v) for i, v in enumerate(values.values())},
                                              ":expected": {"S": expected.value}}}

    def _conditional(self, operation: str, **request: Any) -> bool:
        """One conditional call (``transact_write_items`` or ``update_item``): False when a condition did
        not hold (someone else got there first), True when it went through."""
        try:
            getattr(self.ddb, operation)(**request)
            return True
        except ClientError as exc:
            if conflict(exc):
                return False
            raise

    def park(self, job_id: str, priority: Priority, order: str, fields: Mapping[str, Any],
             status: JobStatus = JobStatus.QUEUED) -> bool:
        values = {**fields, "status": status.value, c.BACKLOG_LANE: priority.value, c.BACKLOG_ORDER: order}
        return self._conditional("transact_write_items", TransactItems=[
            {"Update": self._set_if(job_id, values, JobStatus.RECEIVED)}, self._counter(+1)])

    def release_held(self, job_id: str, fields: Mapping[str, Any]) -> bool:
        values = {**fields, "status": JobStatus.QUEUED.value}
        return self._conditional("update_item", **self._set_if(job_id, values, JobStatus.HELD, remove="held_error, not_before"))

    def withdraw(self, job_id: str) -> bool:
        return self._conditional("transact_write_items", TransactItems=[
            {"Update": {"TableName": self.jobs_table, "Key": {c.JOBS_TABLE_KEY: {"S": job_id}},
                        "UpdateExpression": "SET #s = :claimed REMOVE #lane, #order, not_before, held_error",
                        "ConditionExpression": "attribute_exists(#order) AND (#s = :queued OR #s = :held)",
                        "ExpressionAttributeNames": {"#s": "status", "#lane": c.BACKLOG_LANE,
                                                     "#order": c.BACKLOG_ORDER},
                        "ExpressionAttributeValues": {":claimed": {"S": JobStatus.CLAIMED.value},
                                                      ":queued": {"S": JobStatus.QUEUED.value},
                                                      ":held": {"S": JobStatus.HELD.value}}}},
            self._counter(-1)])

    def head(self, limit: int) -> list[Waiting]:
        out: list[Waiting] = []
        for lane in LANES:
            reply = self.ddb.query(
                TableName=self.jobs_table, IndexName=c.BACKLOG_INDEX, Limit=limit,
                KeyConditionExpression="#lane = :lane", ExpressionAttributeNames={"#lane": c.BACKLOG_LANE},
                ExpressionAttributeValues={":lane": {"S": lane.value}})
            for item in reply.get("Items", []):
                row = from_item(item)
                out.append(Waiting(job_id=row[c.JOBS_TABLE_KEY], lane=lane, order=row[c.BACKLOG_ORDER],
                                   status=JobStatus(row.get("status", JobStatus.QUEUED)),
                                   claimed_until=row.get("claimed_until"), not_before=row.get("not_before")))
        return out

    def claim(self, job_id: str, until: float, now: float) -> dict[str, Any] | None:
        try:
            reply = self.ddb.update_item(
                TableName=self.jobs_table, Key={c.JOBS_TABLE_KEY: {"S": job_id}},
                UpdateExpression="SET #s = :submitting, claimed_until = :until",
                ConditionExpression=("attribute_exists(#order) AND (((#s = :queued OR #s = :held) AND "
                                     "(attribute_not_exists(not_before) OR not_before <= :now)) "
                                     "OR (#s = :submitting AND claimed_until <= :now))"),
                ExpressionAttributeNames={"#s": "status", "#order": c.BACKLOG_ORDER},
                ExpressionAttributeValues={":submitting": {"S": JobStatus.SUBMITTING.value},
                                           ":queued": {"S": JobStatus.QUEUED.value},
                                           ":held": {"S": JobStatus.HELD.value},
                                           ":until": {"N": repr(until)}, ":now": {"N": repr(now)}},
                ReturnValues="ALL_NEW")
        except ClientError as exc:
            if conflict(exc):
                return None
            raise
        return from_item(reply["Attributes"])

    def unclaim(self, job_id: str, *, not_before: float | None = None, attempts: int | None = None) -> None:
        sets = ["#s = :queued"]
        values: dict[str, Any] = {":queued": {"S": JobStatus.QUEUED.value},
                                  ":submitting": {"S": JobStatus.SUBMITTING.value}}
        if not_before is not None:
            sets.append("not_before = :nb")
            values[":nb"] = {"N": repr(not_before)}
        if attempts is not None:
            sets.append("attempts = :a")
            values[":a"] = {"N": str(attempts)}
        try:
            self.ddb.update_item(
                TableName=self.jobs_table, Key={c.JOBS_TABLE_KEY: {"S": job_id}},
                UpdateExpression="SET " + ", ".join(sets) + " REMOVE claimed_until",
                ConditionExpression="#s = :submitting", ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values)
        except ClientError as exc:
            if not conflict(exc):
                raise

    def leave(self, job_id: str) -> bool:
        return self._conditional("transact_write_items", TransactItems=[
            {"Update": {"TableName": self.jobs_table, "Key": {c.JOBS_TABLE_KEY: {"S": job_id}},
                        "UpdateExpression": "REMOVE #lane, #order, claimed_until, not_before",
                        "ConditionExpression": "attribute_exists(#order)",
                        "ExpressionAttributeNames": {"#lane": c.BACKLOG_LANE, "#order": c.BACKLOG_ORDER}}},
            self._counter(-1)])

    def size(self) -> int:
        item = self.ddb.get_item(TableName=self.control_table, Key={c.CONTROL_TABLE_KEY: {"S": COUNTER_KEY}},
                                 ConsistentRead=True).get("Item") or {}
        return max(0, int(item.get("n", {}).get("N", "0")))

