"""Who may write an output name (DynamoDB, the control table): the later upload wins it.

``output#<video key>`` holds ``order``, the upload order (``i2v.backlog.order_key``: upload time, then
job id) of the newest job that claimed the name. ``claim`` succeeds for a job at least as new as
that one (a retried store claims again); ``confirm`` succeeds only while the job's claim is still the
newest, and records the version it wrote. See ``i2v.steps.store`` for how the two make an older
upload's video never replace a newer one's.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from i2v import constants as c
from i2v.aws.clients import client
from i2v.aws.jobs_table import conflict

OUTPUT_ITEM_PREFIX = "output#"
NAME_DAYS = c.DEFAULT_JOB_RETENTION_DAYS  # as long as the job records: DynamoDB's TTL removes it afterwards


def output_item(name: str) -> str:
    """The control table's key of an output name's claim."""
    return f"{OUTPUT_ITEM_PREFIX}{name}"


class DynamoOutputNames:
    def __init__(self, table: str) -> None:
        self.table = table
        self.ddb = client("dynamodb")

    def _key(self, name: str) -> dict[str, Any]:
        return {c.CONTROL_TABLE_KEY: {"S": output_item(name)}}

    def claim(self, name: str, order: str, job_id: str) -> bool:
        """Take the name for the job whose upload order is ``order``; False when a newer upload holds it."""
        try:
            self.ddb.update_item(
                TableName=self.table, Key=self._key(name),
                UpdateExpression="SET #o = :o, job_id = :j, #e = :e REMOVE written_version",
                ConditionExpression="attribute_not_exists(#o) OR #o <= :o",
                ExpressionAttributeNames={"#o": "order", "#e": c.CONTROL_TTL_ATTRIBUTE},
                ExpressionAttributeValues={":o": {"S": order}, ":j": {"S": job_id},
                                           ":e": {"N": str(int(time.time()) + NAME_DAYS * 86400)}},
            )
            return True
        except ClientError as exc:
            if conflict(exc):
                return False
            raise

    def confirm(self, name: str, order: str, version_id: str | None) -> bool:
        """The job wrote the name: True while its claim is still the newest (nobody newer claimed since)."""
        try:
            self.ddb.update_item(
                TableName=self.table, Key=self._key(name),
                UpdateExpression="SET written_version = :v",
                ConditionExpression="#o = :o",
                ExpressionAttributeNames={"#o": "order"},
                ExpressionAttributeValues={":o": {"S": order}, ":v": {"S": version_id or "-"}},
            )
            return True
        except ClientError as exc:
            if conflict(exc):
                return False
            raise
