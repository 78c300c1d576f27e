"""AWS cost of a video at published us-east-1 on-demand prices, from request counts.

Prices: AWS public pricing pages for US East (N. Virginia), on-demand, no free tier, Lambda on arm64
(first duration tier), Step Functions Standard, SQS and SNS standard, S3 Standard requests, DynamoDB
on-demand (after the November 2024 cut), CloudWatch Logs standard ingestion.
Recorded 2026-11-25; a change of any price changes every design's and strategy's row by the same rule.

A video's AWS cost has two parts:

- the front: intake and dispatch (or, in today's design, the submit function), priced from the
  requests, invocations and function seconds the backlog benchmark measures on the real code
  (``requests_usd``, ``lambda_usd``, ``logs_usd``);
- the workflow: polls, state transitions and the store step, the same whatever the front does
  (``workflow_usd``); its requests per poll and per job are measured on the real status and store steps
  (``workflow.workflow_requests``), the number of polls and transitions comes from the polling benchmark.

The provider's own charge (about $0.13 to $0.95 a video) is not an AWS cost and is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from i2v_bench import asl
from i2v_bench.workflow import workflow_requests
from i2v_infra.config import DEFAULT_LAMBDA_MEMORY_MB

# --- published prices, us-east-1, recorded 2026-11-25 ---------------------------------------------
LAMBDA_REQUEST_USD = 0.20 / 1_000_000  # per invocation
LAMBDA_ARM64_GB_SECOND_USD = 0.0000133334  # per GB-second, arm64, first 7.5 billion GB-s a month
SFN_STANDARD_TRANSITION_USD = 0.025 / 1_000  # per state transition, Standard workflows
SQS_STANDARD_REQUEST_USD = 0.40 / 1_000_000  # per request (64 KB chunk), standard queue, after 1M free
SNS_PUBLISH_USD = 0.50 / 1_000_000  # per publish (64 KB chunk), standard topic
S3_PUT_REQUEST_USD = 0.005 / 1_000  # PUT, COPY, POST, LIST (multipart create/part/complete each count)
S3_GET_REQUEST_USD = 0.0004 / 1_000  # GET, SELECT, HEAD and all other requests
DDB_WRITE_REQUEST_UNIT_USD = 0.625 / 1_000_000  # on-demand write request unit (<= 1 KB item)
DDB_READ_REQUEST_UNIT_USD = 0.125 / 1_000_000  # on-demand read request unit (strongly consistent 4 KB)
LOGS_INGEST_GB_USD = 0.50  # CloudWatch Logs standard ingestion, per GB
EVENTS_PUT_USD = 1.00 / 1_000_000  # EventBridge custom events put (64 KB chunk)

# --- the functions ---------------------------------------------------------------------------------
# The stack's defaults (intake 512, dispatch 512, status 256, store 1024); "submit" is today's design's
# function, the baseline of the backlog benchmark (512 MB in the stack it was removed from).
LAMBDA_MEMORY_MB: dict[str, int] = {**DEFAULT_LAMBDA_MEMORY_MB, "submit": 512}
# Billed seconds per warm invocation of the workflow's functions (assumptions: one provider call and a
# table write; a ~15 MB video copied at ~10 MB/s plus the manifest). Intake, dispatch and submit are
# measured by the backlog benchmark instead (their simulated service time).
WORKFLOW_LAMBDA_SECONDS = {"status": 0.15, "store": 2.0}
LOG_BYTES_PER_INVOCATION = 700  # START, END and REPORT lines and the metrics (EMF) document
LOG_BYTES_PER_LINE = 450  # one of our JSON log lines (Powertools' keys, job id, message)
WORKFLOW_LOG_BYTES = {"status": 900, "store": 3000}  # per invocation, lines included

# --- DynamoDB request units, by table and operation ------------------------------------------------
# Jobs items are ~1.5 KB (the throughput run's jobs_item_json_bytes_p50), so a write of one costs 2 WRU;
# a transaction costs twice its items' units (the jobs item and the 1-unit backlog counter); the backlog
# index is queried eventually consistent (0.5 RRU for up to 4 KB of its small projected items); leases,
# the counter and idempotency records are under 1 KB; every read the functions make of the tables is
# strongly consistent (1 RRU per 4 KB).
DDB_UNITS: dict[str, dict[str, tuple[str, float]]] = {
    "jobs": {"UpdateItem": ("write", 2), "PutItem": ("write", 2), "DeleteItem": ("write", 2),
             "TransactWriteItems": ("write", 2 * (2 + 1)), "GetItem": ("read", 1), "Query": ("read", 0.5),
             "Scan": ("read", 1)},
    "control": {"UpdateItem": ("write", 1), "PutItem": ("write", 1), "DeleteItem": ("write", 1),
                "GetItem": ("read", 1), "TransactWriteItems": ("write", 2 * 2),  # spend: the day and month items
                "BatchGetItem.items": ("read", 1),
                "BatchGetItem": ("read", 0)},
    "idempotency": {"PutItem": ("write", 1), "UpdateItem": ("write", 1), "DeleteItem": ("write", 1),
                    "GetItem": ("read", 1)},
}



@dataclass(frozen=True)
class JobCost:
    lambda_usd: float
    stepfunctions_usd: float
    sqs_usd: float
    sns_usd: float
    s3_usd: float
    dynamodb_usd: float
    logs_usd: float

    @classmethod
    def from_services(cls, usd: Mapping[str, float]) -> JobCost:
        return cls(**{f"{name}_usd": usd.get(name, 0.0) for name in
                      ("lambda", "stepfunctions", "sqs", "sns", "s3", "dynamodb", "logs")})

    @property
    def total(self) -> float:
        return (self.lambda_usd + self.stepfunctions_usd + self.sqs_usd + self.sns_usd + self.s3_usd
                + self.dynamodb_usd + self.logs_usd)

    def per_1000(self) -> dict[str, float]:
        parts = {name: round(value * 1000, 4) for name, value in self.__dict__.items()}
        parts["total_usd"] = round(self.total * 1000, 4)
        return parts


def _request_usd(key: str, n: float) -> tuple[str, float]:
    """(service, $) of ``n`` requests keyed ``meter|service.Operation`` or ``dynamodb.table.Operation``."""
    meter, _, operation = key.rpartition("|")
    if operation.startswith("dynamodb.") and operation.count(".") >= 2 and not meter:
        _service, table, operation = operation.split(".", 2)
    elif operation.startswith("dynamodb."):
        table, operation = meter, operation.removeprefix("dynamodb.")
    else:
        table = ""
    if table:
        kind, units = DDB_UNITS[table][operation]
        return "dynamodb", n * units * (DDB_WRITE_REQUEST_UNIT_USD if kind == "write" else DDB_READ_REQUEST_UNIT_USD)
    service, _, name = operation.partition(".")
    if service == "s3":
        return "s3", n * (S3_PUT_REQUEST_USD if name in ("PutObject", "CreateMultipartUpload", "UploadPart",
                                                          "CompleteMultipartUpload", "CopyObject")
                          else S3_GET_REQUEST_USD)
    if service == "sqs":
        return "sqs", n * SQS_STANDARD_REQUEST_USD
    if service == "sns":
        return "sns", n * SNS_PUBLISH_USD
    if service == "events":
        return "events", n * EVENTS_PUT_USD
    if service == "stepfunctions":
        return "stepfunctions", 0.0  # Standard workflows bill state transitions, not API calls
    raise ValueError(f"no price for {key!r}")


def requests_usd(requests: Mapping[str, float]) -> dict[str, float]:
    """$ by service for request counts (``meter|service.Operation``; the meter names the DynamoDB table)."""
    out: dict[str, float] = {}
    for key, n in requests.items():
        service, usd = _request_usd(key, n)
        out[service] = out.get(service, 0.0) + usd
    return out


def lambda_usd(function: str, invocations: float, billed_seconds: float) -> float:
    return invocations * LAMBDA_REQUEST_USD + LAMBDA_MEMORY_MB[function] / 1024 * billed_seconds * \
        LAMBDA_ARM64_GB_SECOND_USD


def logs_usd(log_bytes: float) -> float:
    return log_bytes / 1e9 * LOGS_INGEST_GB_USD


def workflow_usd(polls: float, transitions: float | None = None) -> dict[str, float]:
    """$ by service of one job's workflow: ``polls`` status checks (may be an average), its state
    transitions (from the ASL when not given) and the store step, without the slot it gives back. The
    requests per poll and per job are measured on the real steps (``workflow.workflow_requests``)."""
    if transitions is None:
        cycle = asl.cycle()
        transitions = cycle["per_job_count"] + cycle["per_poll_count"] * polls
    measured = workflow_requests()
    requests = {k: v * polls for k, v in measured["per_poll"].items()}
    for k, v in measured["per_job"].items():
        requests[k] = requests.get(k, 0.0) + v
    out = requests_usd(requests)
    invocations = {"status": polls, "store": 1.0}
    out["lambda"] = sum(lambda_usd(f, n, n * WORKFLOW_LAMBDA_SECONDS[f]) for f, n in invocations.items())
    out["logs"] = logs_usd(sum(WORKFLOW_LOG_BYTES[f] * n for f, n in invocations.items()))
    out["stepfunctions"] = out.get("stepfunctions", 0.0) + transitions * SFN_STANDARD_TRANSITION_USD
    return out


def job_cost(polls: float, transitions: float | None, front: Mapping[str, float]) -> JobCost:
    """The AWS cost of one successful job polled ``polls`` times: its workflow, and the front (intake and
    dispatch, $ by service per video; the polling section passes the backlog benchmark's parked design at
    100 uploads, ``backlog.front_per_video``)."""
    usd = workflow_usd(polls, transitions)
    for service, value in front.items():
        usd[service] = usd.get(service, 0.0) + value
    return JobCost.from_services(usd)


def assumptions() -> dict[str, Any]:
    """What the cost figures rest on, for results and the README."""
    return {
        "prices_recorded": "2026-11-25", "region": "us-east-1",
        "lambda_memory_mb": LAMBDA_MEMORY_MB, "workflow_lambda_billed_seconds": WORKFLOW_LAMBDA_SECONDS,
        "workflow_requests": "measured on the real status and store steps (workflow.workflow_requests)",
        "dynamodb_units": {t: {op: f"{units:g} {kind}" for op, (kind, units) in ops.items()}
                           for t, ops in DDB_UNITS.items()},
        "log_bytes": {"per_invocation": LOG_BYTES_PER_INVOCATION, "per_line": LOG_BYTES_PER_LINE,
                      "workflow_per_invocation": WORKFLOW_LOG_BYTES},
        "front": "intake + dispatch requests, invocations and seconds measured by the backlog benchmark "
                 "(parked design, 100 uploads)",
        "free_tiers": "ignored",
    }
