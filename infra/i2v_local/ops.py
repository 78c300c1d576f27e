"""Operator commands against a deployed stack or a running local cloud: jobs, spend and redrive.

Resources are found from the CloudFormation stack's outputs (`--stack`), or, with `--endpoint-url`
and no stack, by the names the embedded local cloud uses. Credentials and region come from the
standard boto3 chain (profile, environment).
"""

from __future__ import annotations

import ipaddress
import json
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import ClientError

from i2v import constants as c
from i2v.aws.jobs_table import JobsTable
from i2v.aws.queue import message_attributes
from i2v.backlog import LANES
from i2v.contracts.status import JobStatus, Priority
from i2v.jobs.keys import execution_name
from i2v.spend import Periods
from i2v_infra.resources import (
    OUTPUT_CONTROL_TABLE,
    OUTPUT_DLQ_URL,
    OUTPUT_JOBS_TABLE,
    OUTPUT_QUEUE_URL,
    QUEUES,
    TABLES,
)

LOCAL_CREDENTIALS = ("local", "local")  # any value works for a local cloud; no AWS account is involved
LOCAL_REGION = "us-east-1"  # the embedded local cloud's region


def is_loopback(endpoint_url: str | None) -> bool:
    """An endpoint on this machine (127.0.0.0/8, ::1, localhost): a local cloud, never AWS."""
    host = urlsplit(endpoint_url).hostname if endpoint_url else None
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OpsError(RuntimeError):
    """A problem the operator can fix (missing stack, unknown job...): the message says how."""


@dataclass
class Target:
    """Where the operator commands go. A local cloud (an endpoint on loopback) needs no AWS
    configuration: it gets dummy credentials and the local cloud's region unless --region is given."""

    endpoint_url: str | None = None
    stack: str | None = None
    region: str | None = None
    profile: str | None = None

    @property
    def is_local(self) -> bool:
        return is_loopback(self.endpoint_url)

    def session(self) -> boto3.session.Session:
        if self.is_local:
            return boto3.session.Session(aws_access_key_id=LOCAL_CREDENTIALS[0],
                                         aws_secret_access_key=LOCAL_CREDENTIALS[1],
                                         profile_name=self.profile, region_name=self.region or LOCAL_REGION)
        return boto3.session.Session(profile_name=self.profile, region_name=self.region or None)

    def client(self, service: str):
        kwargs = {"endpoint_url": self.endpoint_url} if self.endpoint_url else {}
        if self.endpoint_url and not self.region:
            kwargs["region_name"] = LOCAL_REGION
        return self.session().client(service, **kwargs)

    def outputs(self) -> dict:
        if self.stack is None and self.endpoint_url:  # the local cloud's names, from the resource description
            sqs = self.client("sqs")
            return {OUTPUT_JOBS_TABLE: TABLES["jobs"].local_name, OUTPUT_CONTROL_TABLE: TABLES["control"].local_name,
                    OUTPUT_QUEUE_URL: sqs.get_queue_url(QueueName=QUEUES["uploads"].local_name)["QueueUrl"],
                    OUTPUT_DLQ_URL: sqs.get_queue_url(QueueName=QUEUES["uploads_dlq"].local_name)["QueueUrl"]}
        stack = self.stack or "I2VPipeline"
        try:
            reply = self.client("cloudformation").describe_stacks(StackName=stack)
        except ClientError as exc:  # no such stack here; credentials and network errors: see i2v_local.errors
            raise OpsError(f"cannot read the outputs of stack {stack!r} ({exc.response['Error'].get('Message')}); "
                           "pass --stack NAME (and --region), or --endpoint-url for a local cloud") from None
        return {o["OutputKey"]: o["OutputValue"] for o in reply["Stacks"][0].get("Outputs", [])}


class JobsSource:
    """Rows of the jobs table: live (a table) or a snapshot that `i2v local` wrote beside its outputs."""

    def __init__(self, target: Target | None = None, snapshot_dir: Path | None = None) -> None:
        self.target = target
        self.snapshot = snapshot_dir / ".i2v" / "jobs.json" if snapshot_dir else None
        if self.snapshot is not None and not self.snapshot.is_file():
            raise OpsError(f"no job records at {self.snapshot}; expected the --out folder of an `i2v local` run")
        self._table = None

    @property
    def table(self):
        if self._table is None:
            assert self.target is not None
            self._table = JobsTable(self.target.outputs()[OUTPUT_JOBS_TABLE], self.target.client("dynamodb"))
        return self._table

    def all(self) -> list[dict]:
        """Every job, newest upload first; waiting jobs carry ``place``: their turn in the backlog (1 = next)."""
        if self.snapshot:
            rows = json.loads(self.snapshot.read_text(encoding="utf-8"))
        else:
            rows = self.table.scan()
        for place, row in enumerate(sorted((r for r in rows if c.BACKLOG_ORDER in r), key=_backlog_position), 1):
            row["place"] = place
        return sorted(rows, key=lambda r: r.get("uploaded_at") or "", reverse=True)

    def get(self, job_id: str) -> dict:
        matches = [r for r in self.all() if r["job_id"].startswith(job_id)] if len(job_id) < 32 else []
        if len(job_id) >= 32 or not matches:
            if self.snapshot:
                matches = [r for r in self.all() if r["job_id"] == job_id]
            else:
                item = self.table.get(job_id)
                matches = [item] if item else []
        if not matches:
            raise OpsError(f"no job {job_id!r}; `i2v jobs list` shows the ids (a unique prefix is enough)")
        if len(matches) > 1:
            raise OpsError(f"{len(matches)} jobs start with {job_id!r}; give more of the id")
        return matches[0]


SPEND_SNAPSHOT = "spend.json"  # beside jobs.json in an `i2v local` run's .i2v folder: {"day#<date>": usd, ...}


def spend_items(ddb, table: str) -> dict[str, float]:
    """Every spend item of a control table ({"day#2026-12-02": 0.13, "month#2026-12": 0.13}); a local run's
    snapshot (a small table: one scan)."""
    items: dict[str, float] = {}
    kwargs: dict = {"TableName": table, "FilterExpression": "begins_with(#pk, :spend)",
                    "ExpressionAttributeNames": {"#pk": c.CONTROL_TABLE_KEY},
                    "ExpressionAttributeValues": {":spend": {"S": "spend#"}}}
    while True:
        reply = ddb.scan(**kwargs)
        for item in reply.get("Items", []):
            items[item[c.CONTROL_TABLE_KEY]["S"].removeprefix("spend#")] = float(item.get("usd", {}).get("N", "0"))
        if "LastEvaluatedKey" not in reply:
            return items
        kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def spend_so_far(target: Target | None = None, snapshot_dir: Path | None = None,
                 now: float | None = None) -> dict:
    """Provider spend as the budgets count it (reserved at submission, refunded when the provider created
    nothing): today's and this month's (UTC) in a stack or a live local cloud, two GetItems of the
    control table; the periods of the run in an `i2v local` snapshot."""
    if snapshot_dir is not None:
        path = snapshot_dir / ".i2v" / SPEND_SNAPSHOT
        if not path.is_file():
            raise OpsError(f"no spend records at {path}; expected the --out folder of an `i2v local` run")
        items = {k: float(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
        days = sorted(k.removeprefix("day#") for k in items if k.startswith("day#"))
        day = days[-1] if days else Periods.at(now if now is not None else time.time()).day
        month = day[:7]
        return {"day": day, "month": month, "today_usd": round(items.get(f"day#{day}", 0.0), 6),
                "month_usd": round(items.get(f"month#{month}", 0.0), 6)}
    assert target is not None
    periods = Periods.at(now if now is not None else time.time())
    table, ddb = target.outputs().get(OUTPUT_CONTROL_TABLE), target.client("dynamodb")
    if not table:
        raise OpsError("the stack has no ControlTableName output (deployed before `i2v jobs spend` existed); "
                       "deploy it again")
    out = {"day": periods.day, "month": periods.month}
    for field, key in (("today_usd", f"spend#day#{periods.day}"), ("month_usd", f"spend#month#{periods.month}")):
        item = ddb.get_item(TableName=table, Key={c.CONTROL_TABLE_KEY: {"S": key}}, ConsistentRead=True).get("Item")
        out[field] = round(float((item or {}).get("usd", {}).get("N", "0")), 6)
    return out


def retry(target: Target, job_id: str) -> dict:
    """Deliberately run a finished job again, as a new attempt (a new paid submission).

    Used for failures worth another try (SUBMIT_OUTCOME_UNKNOWN after checking the provider's
    console, PROVIDER_UNAVAILABLE, TIMED_OUT...). The redrive number gives the attempt a new
    idempotency key and a new workflow name; duplicates of the old events stay ignored.
    """
    source = JobsSource(target)
    job = source.get(job_id)
    if job.get("status") != JobStatus.FAILED:
        raise OpsError(f"job {job['job_id']} is {job.get('status')}; only FAILED jobs can be retried")
    redrive = int(job.get("redrive") or 0) + 1
    table = source.table
    table.ddb.update_item(
        TableName=table.table, Key={c.JOBS_TABLE_KEY: {"S": job["job_id"]}},
        UpdateExpression="SET #s = :r0, redrive = :r, updated_at = :t REMOVE submit_started_at, notified_at, #e",
        ConditionExpression="#s = :failed",
        ExpressionAttributeNames={"#s": "status", "#e": "error"},
        ExpressionAttributeValues={":r0": {"S": JobStatus.RECEIVED.value}, ":r": {"N": str(redrive)},
                                   ":failed": {"S": JobStatus.FAILED.value},
                                   ":t": {"S": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}},
    )
    src = job["source"]
    record = {"eventSource": "aws:s3", "eventName": "ObjectCreated:Redrive", "eventTime": job.get("uploaded_at"),
              "s3": {"bucket": {"name": src["bucket"]},
                     "object": {"key": src["key"], **({"versionId": src["version_id"]} if src.get("version_id") else {}),
                                **({"eTag": src["etag"]} if src.get("etag") else {}),
                                **({"sequencer": src["sequencer"]} if src.get("sequencer") else {})}}}
    from urllib.parse import quote_plus

    record["s3"]["object"]["key"] = quote_plus(src["key"], safe="/")
    queue_url = target.outputs()[OUTPUT_QUEUE_URL]
    target.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps({"Records": [record]}),
                                      MessageAttributes=message_attributes(redrive=redrive))
    return {"job_id": job["job_id"], "redrive": redrive, "execution_name": execution_name(job["job_id"], redrive)}


def redrive_dead_letters(target: Target, limit: int | None = None) -> int:
    """Move messages from the dead-letter queue back to the upload queue; returns how many."""
    outputs = target.outputs()
    sqs = target.client("sqs")
    moved = 0
    while limit is None or moved < limit:
        batch = min(10, (limit - moved) if limit else 10)
        reply = sqs.receive_message(QueueUrl=outputs[OUTPUT_DLQ_URL], MaxNumberOfMessages=batch,
                                    WaitTimeSeconds=1, MessageAttributeNames=["All"])
        messages = reply.get("Messages", [])
        if not messages:
            break
        for message in messages:
            sqs.send_message(QueueUrl=outputs[OUTPUT_QUEUE_URL], MessageBody=message["Body"],
                             MessageAttributes=message.get("MessageAttributes") or {})
            sqs.delete_message(QueueUrl=outputs[OUTPUT_DLQ_URL], ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def _backlog_position(row: dict) -> tuple[int, str]:
    """Where a waiting job stands: its lane (high, normal, low), then its upload order within it."""
    lane = row.get(c.BACKLOG_LANE) or Priority.NORMAL.value
    rank = LANES.index(Priority(lane)) if lane in {p.value for p in Priority} else len(LANES)
    return rank, str(row.get(c.BACKLOG_ORDER) or "")
