"""AWS cost of one job at published us-east-1 on-demand prices, for a given number of polls.

Prices: AWS public pricing pages for US East (N. Virginia), on-demand, no free tier, Lambda on arm64
(first duration tier), Step Functions Standard, SQS and SNS standard, S3 Standard requests, DynamoDB
on-demand (after the November 2024 cut), CloudWatch Logs standard ingestion.
Recorded 2026-11-25; a change of any price changes every strategy's row by the same rule.

The provider's own charge (about $0.13 to $0.95 a video) is not an AWS cost and is left out; it is the
same whatever the polling strategy.
"""

from __future__ import annotations

from dataclasses import dataclass

from i2v_bench import asl
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

# --- usage per job ---------------------------------------------------------------------------------
# Request counts are those the throughput benchmark measured per upload in the local pipeline (results.json
# throughput.requests_per_upload): a burst of 100 uploads against the in-flight cap of 10, where each upload
# is deferred ~6 times and re-validated on every try (a steady trickle makes fewer). Rounded up.
LAMBDA_MEMORY_MB = dict(DEFAULT_LAMBDA_MEMORY_MB)  # the stack's defaults: submit 512, status 256, store 1024
# Billed duration per invocation (warm), seconds: assumptions, one provider call and a few AWS calls each.
LAMBDA_SECONDS = {"submit": 0.8, "status": 0.15, "store": 2.0}  # store: a ~15 MB video at ~10 MB/s + manifest
SUBMIT_INVOCATIONS_PER_JOB = 1.0  # measured 0.89 (batches of up to 10 messages, deferred ones come back)
SQS_REQUESTS_PER_JOB = 9  # S3 event send 1 + deferral sends 5.8 + receives 1.3 + delete batches 0.9
SNS_PUBLISHES_PER_JOB = 1  # one notification per job
S3_PUTS_PER_JOB = 5  # a 5-25 MB video: CreateMultipartUpload + 2 x UploadPart (8 MiB) + Complete; manifest
S3_GETS_PER_JOB = 49  # HeadObject 27.2 + GetObject 20.4 (image checks, _defaults.json lookups, per try) + provider
DDB_WRITE_UNITS_PER_JOB = 45  # ~30 writes (UpdateItem/PutItem/DeleteItem) x ~1.5 WRU (jobs items are ~1.5 KB)
DDB_READ_UNITS_PER_JOB = 173  # GetItem 6.8 + 166 slot/token items read by BatchGetItem (consistent, 1 RRU each)
DDB_WRITE_UNITS_PER_POLL = 2  # check_status updates the ~1.5 KB jobs item after every poll
LOG_BYTES = {"submit": 4000, "status": 900, "store": 3000}  # START/END/REPORT lines + our JSON lines + EMF


@dataclass(frozen=True)
class JobCost:
    lambda_usd: float
    stepfunctions_usd: float
    sqs_usd: float
    sns_usd: float
    s3_usd: float
    dynamodb_usd: float
    logs_usd: float

    @property
    def total(self) -> float:
        return (self.lambda_usd + self.stepfunctions_usd + self.sqs_usd + self.sns_usd + self.s3_usd
                + self.dynamodb_usd + self.logs_usd)

    def per_1000(self) -> dict:
        parts = {name: round(value * 1000, 4) for name, value in self.__dict__.items()}
        parts["total_usd"] = round(self.total * 1000, 4)
        return parts


def _lambda(function: str, invocations: float) -> float:
    gb_seconds = LAMBDA_MEMORY_MB[function] / 1024 * LAMBDA_SECONDS[function] * invocations
    return invocations * LAMBDA_REQUEST_USD + gb_seconds * LAMBDA_ARM64_GB_SECOND_USD


def job_cost(polls: float, transitions: float | None = None) -> JobCost:
    """The AWS cost of one successful job that was polled ``polls`` times (may be an average)."""
    if transitions is None:
        cycle = asl.cycle()
        transitions = cycle["per_job_count"] + cycle["per_poll_count"] * polls
    invocations = {"submit": SUBMIT_INVOCATIONS_PER_JOB, "status": polls, "store": 1.0}
    log_bytes = sum(LOG_BYTES[name] * count for name, count in invocations.items())
    return JobCost(
        lambda_usd=sum(_lambda(name, count) for name, count in invocations.items()),
        stepfunctions_usd=transitions * SFN_STANDARD_TRANSITION_USD,
        sqs_usd=SQS_REQUESTS_PER_JOB * SQS_STANDARD_REQUEST_USD,
        sns_usd=SNS_PUBLISHES_PER_JOB * SNS_PUBLISH_USD,
        s3_usd=S3_PUTS_PER_JOB * S3_PUT_REQUEST_USD + S3_GETS_PER_JOB * S3_GET_REQUEST_USD,
        dynamodb_usd=(DDB_WRITE_UNITS_PER_JOB + DDB_WRITE_UNITS_PER_POLL * polls) * DDB_WRITE_REQUEST_UNIT_USD
        + DDB_READ_UNITS_PER_JOB * DDB_READ_REQUEST_UNIT_USD,
        logs_usd=log_bytes / 1e9 * LOGS_INGEST_GB_USD,
    )


def assumptions() -> dict:
    """What the cost figures rest on, for results and the README."""
    return {
        "prices_recorded": "2026-11-25", "region": "us-east-1",
        "lambda_memory_mb": LAMBDA_MEMORY_MB, "lambda_billed_seconds": LAMBDA_SECONDS,
        "sqs_requests_per_job": SQS_REQUESTS_PER_JOB, "sns_publishes_per_job": SNS_PUBLISHES_PER_JOB,
        "s3_put_requests_per_job": S3_PUTS_PER_JOB, "s3_get_requests_per_job": S3_GETS_PER_JOB,
        "dynamodb_write_units_per_job": DDB_WRITE_UNITS_PER_JOB,
        "dynamodb_write_units_per_poll": DDB_WRITE_UNITS_PER_POLL, "dynamodb_read_units_per_job": DDB_READ_UNITS_PER_JOB,
        "log_bytes_per_invocation": LOG_BYTES, "free_tiers": "ignored",
    }
