"""One description of the pipeline's resources: what the CDK stack creates and the embedded local
cloud provisions, read by both.

Names, keys, indexes, time-to-live attributes, queues and their redrive, functions with their
handler, timeout, memory, environment and trigger. Pure Python (no CDK import), so the local cloud
loads it in milliseconds; ``tests/infra/test_resources.py`` holds the synthesized template and a
running local cloud against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from i2v import constants as c


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: str
    sort_key: str
    projected: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    construct_id: str
    local_name: str
    partition_key: str
    env: str  # the variable that names it to the functions
    ttl_attribute: str | None = None
    indexes: tuple[IndexSpec, ...] = ()


@dataclass(frozen=True)
class QueueSpec:
    construct_id: str
    local_name: str
    visibility_timeout: int
    retention_days: int
    dead_letter: str | None = None  # construct id of its dead-letter queue
    max_receive_count: int | None = None


@dataclass(frozen=True)
class EventSourceSpec:
    queue: str  # construct id
    batch_size: int
    max_concurrency: int
    batching_window_seconds: int = 0


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # constants.FN_*
    construct_id: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    description: str
    trigger: EventSourceSpec | None = None
    schedule_seconds: int | None = None

    @property
    def environment(self) -> tuple[str, ...]:
        return c.FUNCTION_ENV[self.name]

    @property
    def local_name(self) -> str:
        return f"i2v-{self.name}"


TABLES: Mapping[str, TableSpec] = {
    # One record per job (job_id from bucket, key and version): state, task id, timings; the backlog's index.
    "jobs": TableSpec("Jobs", "i2v-jobs", c.JOBS_TABLE_KEY, c.ENV_JOBS_TABLE, ttl_attribute=c.JOBS_TTL_ATTRIBUTE,
                      indexes=(IndexSpec(c.BACKLOG_INDEX, c.BACKLOG_LANE, c.BACKLOG_ORDER, c.BACKLOG_PROJECTED),)),
    # aws_lambda_powertools.utilities.idempotency.DynamoDBPersistenceLayer's default layout.
    "idempotency": TableSpec("Idempotency", "i2v-idempotency", c.IDEMPOTENCY_TABLE_KEY, c.ENV_IDEMPOTENCY_TABLE,
                             ttl_attribute=c.IDEMPOTENCY_TTL_ATTRIBUTE),
    # In-flight slots, per-minute submit tokens and the backlog counter; stale leases expire by themselves.
    "control": TableSpec("Control", "i2v-control", c.CONTROL_TABLE_KEY, c.ENV_CONTROL_TABLE,
                         ttl_attribute=c.CONTROL_TTL_ATTRIBUTE),
}


def _visibility(function: str) -> int:
    return c.FUNCTION_TIMEOUT_SECONDS[function] * c.VISIBILITY_TIMEOUT_FACTOR


QUEUES: Mapping[str, QueueSpec] = {
    "uploads_dlq": QueueSpec("DeadLetters", "i2v-uploads-dlq", visibility_timeout=30, retention_days=14),
    # Shorter retention than the DLQ's: a message keeps its first enqueue time when it moves there.
    "uploads": QueueSpec("Uploads", "i2v-uploads", visibility_timeout=_visibility(c.FN_INTAKE), retention_days=4,
                         dead_letter="DeadLetters", max_receive_count=c.MAX_RECEIVE_COUNT),
    # Wake-ups of the dispatcher: they carry nothing, so no dead-letter queue (the schedule covers a lost one).
    "wake": QueueSpec("Wake", "i2v-dispatch-wake", visibility_timeout=_visibility(c.FN_DISPATCH), retention_days=1),
}

FUNCTIONS: Mapping[str, FunctionSpec] = {
    c.FN_INTAKE: FunctionSpec(
        c.FN_INTAKE, "Intake", "i2v.handlers.intake.handler", c.FUNCTION_TIMEOUT_SECONDS[c.FN_INTAKE], 512,
        "i2v: builds and validates each uploaded job once and parks it in the backlog",
        trigger=EventSourceSpec("Uploads", batch_size=10, max_concurrency=2)),
    c.FN_DISPATCH: FunctionSpec(
        c.FN_DISPATCH, "Dispatch", "i2v.handlers.dispatch.handler", c.FUNCTION_TIMEOUT_SECONDS[c.FN_DISPATCH], 512,
        "i2v: starts waiting jobs in order while provider capacity is free (submit once, start the workflow)",
        trigger=EventSourceSpec("Wake", batch_size=10, max_concurrency=2, batching_window_seconds=1),
        schedule_seconds=c.DISPATCH_SCHEDULE_SECONDS),
    c.FN_STATUS: FunctionSpec(
        c.FN_STATUS, "Status", "i2v.handlers.status.handler", c.FUNCTION_TIMEOUT_SECONDS[c.FN_STATUS], 256,
        "i2v: asks the provider how a task is doing and chooses the next wait"),
    c.FN_STORE: FunctionSpec(
        c.FN_STORE, "Store", "i2v.handlers.store.handler", c.FUNCTION_TIMEOUT_SECONDS[c.FN_STORE], 1024,
        "i2v: copies the video to S3, writes the manifest, publishes the notification"),
}

TOPIC_LOCAL_NAME = "i2v-notifications"
STATE_MACHINE_LOCAL_NAME = "i2v-pipeline"
STATE_MACHINE_SUFFIX = "-Pipeline"  # the deployed name is <stack name>-Pipeline
LOCAL_BUCKET = "i2v-local"

# Stack outputs `i2v jobs` and `i2v redrive` read (the local cloud answers the same names).
OUTPUT_JOBS_TABLE = "JobsTableName"
OUTPUT_QUEUE_URL = "QueueUrl"
OUTPUT_DLQ_URL = "DeadLetterQueueUrl"
OUTPUT_CONTROL_TABLE = "ControlTableName"  # `i2v jobs spend`: the spend items (spend#day#..., spend#month#...)


@dataclass(frozen=True)
class Environment:
    """Every value a function may be given, by variable name; each function takes only its own."""

    values: Mapping[str, str] = field(default_factory=dict)

    def for_function(self, name: str) -> dict[str, str]:
        missing = [v for v in c.FUNCTION_ENV[name] if v not in self.values and v not in c.OPTIONAL_ENV]
        if missing:
            raise KeyError(f"no value for {', '.join(missing)}, which the {name} function reads")
        return {v: self.values[v] for v in c.FUNCTION_ENV[name] if v in self.values}
