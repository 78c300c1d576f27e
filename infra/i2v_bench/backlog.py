"""Backlog: a drop of 100 to 100,000 uploads at the default caps, today's design against the parked backlog.

Simulated time: a discrete-event loop over a fake clock (nothing sleeps, nothing touches the network)
runs the functions' real code on the in-memory adapters of ``i2v_local.memory``, which count the AWS
requests the real adapters make. Every upload lands at once (1 ms apart, S3's event-time resolution,
so "upload order" is defined); 70 % Standard, 30 % Professional via the ``mode`` metadata; each job's
time at the provider (2-15 s queued, then 60-180 s or 300-420 s generating) and its detection lag come
from the polling benchmark's job model, the lag and the number of polls from running the real status
step with the production policy on that job. A job holds its in-flight slot from the dispatcher's
``Capacity.acquire`` until its store step gives it back: provider time + detection lag + 2 s of store.

Designs (both on the same building blocks, caps 10 in flight and 20 submissions a minute, no faults):

- ``parked`` (the new design): S3 event -> the Uploads queue -> the real intake step
  (``i2v.steps.intake.take``; batches of 10, two concurrent invocations, one wake per batch that parked
  a job) -> the backlog -> the real ``Dispatcher.run``, woken by its Wake queue (batches of 10, two
  concurrent, 1 s batching window), by its own ``wake_later`` and by the 60 s schedule (which also
  reports the backlog); a job's end gives its slot back and wakes the dispatcher, as the store step does.
- ``defer`` (today's design, the baseline): the old ``submit`` function (git 6d760af,
  ``functions/i2v/steps/submit.py``) rebuilt on the same building blocks by ``DeferSubmitter``: every
  delivery reads the job record, builds and validates the job again (``jobs.build.prepare``: HEADs and
  ranged GETs), writes its request, tries ``Capacity.acquire`` inside Powertools idempotency (a PutItem,
  and a DeleteItem when it raises) and, at capacity, sends the event back to its queue with the old
  delay rule (retry_after x 1-1.5 jitter; 60-90 s while every slot is taken). Batches of 10, two
  concurrent invocations, as the old stack had.

A variant of the parked design, ``parked-batch``: the same jobs arrive as ONE batch file (a CSV of
``BATCH_ROWS`` rows, each naming its image, already in the bucket under a ``_`` folder, and its mode)
instead of as many image uploads. Its one S3 event goes through the real intake step, whose
``take_batch`` reads the file, opens its ledger, claims the images and fans the rows out in chunks of
``constants.BATCH_CHUNK_ROWS`` back onto the Uploads queue, ``constants.BATCH_STEP_SECONDS`` at a time (then it
sends itself a resume message); each chunk is taken by ``take_rows`` (every row a job, parked; rows left when
its step's time is up go back as a chunk of their own) and the dispatcher starts them; each row's end counts in the ledger (``close_row``, as the
store step does), and the last one sends the batch's ``i2v.batch/v1`` summary. Upload order is the rows'
order; every row has the file's upload time.

Service time (how long an invocation runs, which prices Lambda and limits the two pollers): each AWS
request a fake counts moves the clock by an assumed in-Lambda latency (``LATENCY_S``: network + SDK),
the provider's create-task call by ``PROVIDER_SUBMIT_S``, every record by ``RECORD_CPU_S``; the Lambda
service's own SQS requests (ReceiveMessage, DeleteMessageBatch per batch) and the S3 event's
SendMessage are counted but take no function time. Invocations run one at a time in the loop, each
from its own start time; the two pollers of a queue are modelled by their busy-until times. The intake
handler's time budget holds as in ``i2v.handlers.intake``: a record is taken only while
``INTAKE_RECORD_BUDGET_S`` of the function's ``INTAKE_TIMEOUT_S`` are left, the others fail and come back
after the queue's visibility timeout. A record that runs past the function's timeout is not cut short
(nothing else does; the batch file's record does at 10,000 rows): ``batch.batch_file_intake_s`` says how
long it ran.

The baseline's real code would take hours beyond 1,000 uploads (every waiting upload wakes again and
again), so its 10,000 and 100,000 rows come from ``DeferModel``, calibrated on the real-code runs and
checked against the real run at 1,000 (``model_error``); those rows say ``"modelled": true``.
"""

from __future__ import annotations

import dataclasses
import heapq
import io
import math
import random
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import unquote

from i2v import constants as c
from i2v.backlog import LANES
from i2v.batch import close_row
from i2v.capacity import Capacity
from i2v.clock import iso, parse_iso
from i2v.contracts.job import Job, Source
from i2v.contracts.state import Task, WorkflowState
from i2v.contracts.status import JobStatus
from i2v.errors import AtCapacity, SubmissionInProgress
from i2v.jobs import keys
from i2v.jobs.build import identify, prepare
from i2v.polling import DEFAULT_POLICY, scaled
from i2v.provider.models import SubmitRequest
from i2v.settings import Capacity as CapacitySettings
from i2v.settings import DispatchSettings, IntakeSettings
from i2v.steps.batch import RESUME_KIND, Chunk, resumed_batch, take_batch, take_rows
from i2v.steps.dispatch import DispatchDeps, Dispatcher
from i2v.steps.intake import IntakeDeps, Outcome, Upload, take
from i2v_bench import costs, jobmodel
from i2v_bench.stats import mean, percentile
from i2v_bench.workflow import quiet_observability
from i2v_local.memory import (
    MemoryBacklog,
    MemoryBucket,
    MemoryClaims,
    MemoryContents,
    MemoryJobs,
    MemoryLedger,
    MemoryNotifier,
    MemoryRows,
    MemorySpend,
    MemoryWaker,
    MemoryWorkflow,
    Meter,
    MeteredLeaseStore,
)

SIZES = (100, 1_000, 10_000, 100_000)
QUICK_SIZES = (100, 1_000)
REAL_DEFER_MAX = 1_000  # beyond this the baseline is modelled
QUICK_REAL_DEFER_MAX = 100
DESIGNS = ("defer", "parked")
# The parked design fed by ONE batch file of ``BATCH_ROWS`` rows (one per image) instead of as many image uploads.
BATCH_DESIGN = "parked-batch"
ALL_DESIGNS = (*DESIGNS, BATCH_DESIGN)
BATCH_ROWS = 10_000
QUICK_BATCH_ROWS = 1_000
SEED = 20261126
MAX_IN_FLIGHT = c.DEFAULT_MAX_IN_FLIGHT
PER_MINUTE = c.DEFAULT_SUBMITS_PER_MINUTE
WINDOW_SECONDS = 60.0
EPOCH = 1_800_000_000.0  # the drop (whole seconds keep ISO round trips exact)
UPLOAD_SPACING_S = 0.001  # S3 event times have millisecond resolution
STORE_SECONDS = 2.0  # the store step's copy and notification, before it gives the slot back
BUCKET = "media"
FOLDER = "uploads/catalogue/"
BATCH_KEY = f"{FOLDER}catalogue.csv"  # the batch file: one row per image, `image` relative to its folder
BATCH_IMAGES = "_images/"  # its images, already in the bucket: a `_` folder holds no jobs of its own

# --- service time: assumed latency of each request from inside a Lambda function (network + SDK) -----
LATENCY_S: dict[str, float] = {
    "s3.HeadObject": 0.015, "s3.GetObject": 0.020, "s3.PutObject": 0.040,
    "dynamodb.GetItem": 0.008, "dynamodb.UpdateItem": 0.010, "dynamodb.PutItem": 0.010,
    "dynamodb.DeleteItem": 0.010, "dynamodb.BatchGetItem": 0.012, "dynamodb.Query": 0.012,
    "dynamodb.TransactWriteItems": 0.020, "dynamodb.Scan": 0.030,
    "sqs.SendMessage": 0.015, "sns.Publish": 0.020,
    "stepfunctions.StartExecution": 0.040, "stepfunctions.DescribeExecution": 0.025,
}
DEFAULT_LATENCY_S = 0.015
PROVIDER_SUBMIT_S = 0.8  # the provider's create-task call
RECORD_CPU_S = 0.010  # parsing, validation, logging of one record on a 512 MB function
INVOCATION_OVERHEAD_S = 0.005  # a warm invocation's own start and end
BATCH_SIZE = 10
POLLERS = 2  # event-source maximum concurrency (Uploads and Wake; the old submit had the same)
WAKE_BATCHING_WINDOW_S = 1.0
DISPATCH_TIMEOUT_S = float(c.FUNCTION_TIMEOUT_SECONDS[c.FN_DISPATCH])
SCHEDULE_S = float(c.DISPATCH_SCHEDULE_SECONDS)
SQS_MAX_DELAY_S = 900
INTAKE_TIMEOUT_S = float(c.FUNCTION_TIMEOUT_SECONDS[c.FN_INTAKE])
# i2v.handlers.intake: a record is taken only while this much of the function's time is left, else it fails
# (a batch item failure) and the Uploads queue delivers it again after its visibility timeout
INTAKE_RECORD_BUDGET_S = min(float(c.INTAKE_RECORD_BUDGET_SECONDS), INTAKE_TIMEOUT_S / 2)
UPLOADS_VISIBILITY_S = INTAKE_TIMEOUT_S * c.VISIBILITY_TIMEOUT_FACTOR

# --- the old submit step's rules (git 6d760af:functions/i2v/steps/submit.py) ---------------------------
OLD_JITTER = 0.5  # delay = retry_after x (1 + random x 0.5)
OLD_FINAL_STATUSES = frozenset({"GENERATING", "STORING", "SUCCEEDED", "FAILING", "FAILED"})

# --- where the counts of each fake are priced (costs.py knows the tables' item sizes) ------------------
TABLE_OF_METER = {"jobs": "jobs", "control": "control", "idempotency": "idempotency"}


# ==== jobs ==============================================================================================
@dataclass(frozen=True)
class SimJob:
    index: int
    key: str
    version: str
    job_id: str
    uploaded_at: float  # absolute (EPOCH + index ms)
    mode: str
    provider_s: float  # queued + generating at the provider
    lag_s: float  # the adaptive policy's detection lag for this job
    polls: int

    @property
    def hold_s(self) -> float:
        """Seconds the job holds its in-flight slot after its task is created."""
        return self.provider_s + self.lag_s + STORE_SECONDS


def population(count: int, seed: int = jobmodel.SEED) -> list[SimJob]:
    """The first ``count`` jobs of the polling benchmark's model (so every size shares its first jobs)."""
    out = []
    for job in jobmodel.make_jobs(count, seed):
        lag, polls = jobmodel.run_job(job, DEFAULT_POLICY, seed)
        key = f"{FOLDER}item-{job.index:06d}.png"
        version = f"v{job.index + 1}"  # MemoryBucket numbers versions in put order
        out.append(SimJob(job.index, key, version, keys.job_id_for(BUCKET, key, version),
                          EPOCH + job.index * UPLOAD_SPACING_S, job.mode, job.done_at, lag, polls))
    return out


def batch_rows_of(jobs: list[SimJob]) -> list[SimJob]:
    """The same jobs as the rows of one batch file: row ``i + 1`` names job ``i``'s image (already in the
    bucket, versions v1..vN), and the file lands after them (version vN+1) at the drop's first instant,
    so every row's job has the row's job id and the file's upload time."""
    version = f"v{len(jobs) + 1}"
    return [dataclasses.replace(job, key=f"{FOLDER}{BATCH_IMAGES}item-{job.index:06d}.png",
                                job_id=keys.job_id_for(BUCKET, f"{BATCH_KEY}#row{job.index + 1}", version),
                                uploaded_at=EPOCH) for job in jobs]


def batch_file(jobs: list[SimJob]) -> bytes:
    """The CSV: a header row, then one row per job naming its image and its mode."""
    lines = ["image,mode"] + [f"{BATCH_IMAGES}item-{job.index:06d}.png,{job.mode}" for job in jobs]
    return ("\n".join(lines) + "\n").encode()


@cache
def _base_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (40, 110, 170)).save(buf, "PNG")
    return buf.getvalue()


def image_bytes(index: int) -> bytes:
    """A small valid PNG of its own per upload (a tEXt chunk names it), so every upload is a content of its
    own: the dispatcher pays once per content, and identical bytes would all reuse the first video."""
    base = _base_png()
    data = b"Comment\x00" + f"item-{index:06d}".encode()
    chunk = len(data).to_bytes(4, "big") + b"tEXt" + data + zlib.crc32(b"tEXt" + data).to_bytes(4, "big")
    return base[:33] + chunk + base[33:]  # after the signature (8 bytes) and the IHDR chunk (25 bytes)


# ==== schedules =========================================================================================
def list_schedule(jobs: list[SimJob], order: list[int], cap: int = MAX_IN_FLIGHT, per_window: int = PER_MINUTE,
                  window: float = WINDOW_SECONDS,
                  pickup: Callable[[int, float], float] | None = None) -> dict[int, float]:
    """Greedy list schedule: each job in ``order`` starts as soon as it is uploaded, a slot is free and a
    rate token is free (plus ``pickup(waiting, free_at)`` seconds); returns start times by job index."""
    slots = [0.0] * cap
    tokens = [-math.inf] * per_window
    starts: dict[int, float] = {}
    waiting = len(order)
    for i in order:
        job = jobs[i]
        free_at = max(job.uploaded_at, heapq.heappop(slots), heapq.heappop(tokens))
        start = free_at + (pickup(waiting, free_at) if pickup else 0.0)
        starts[i] = start
        waiting -= 1
        heapq.heappush(slots, start + job.hold_s)
        heapq.heappush(tokens, start + window)
    return starts


def ideal_drain(jobs: list[SimJob]) -> tuple[dict[int, float], float]:
    """The ideal first-in-first-out drain: start times, and when the last job starts (s after the drop)."""
    starts = list_schedule(jobs, list(range(len(jobs))))
    return starts, max(starts.values()) - EPOCH


def order_stats(start_order: list[int]) -> dict[str, float]:
    """How far the start order is from the upload order."""
    n = len(start_order)
    ascending = sum(1 for a, b in zip(start_order, start_order[1:], strict=False) if b > a)
    displacement = max((abs(rank - index) for rank, index in enumerate(start_order)), default=0)
    return {"in_order_fraction": round(ascending / (n - 1), 4) if n > 1 else 1.0,
            "max_displacement": displacement, "max_displacement_fraction": round(displacement / n, 4) if n else 0.0}


def provider_in_flight(jobs: list[SimJob], starts: Mapping[int, float], until: float) -> tuple[float, int]:
    """(time-weighted mean of the tasks at the provider between the drop and ``until``, the most at once)."""
    events = sorted([(starts[j.index], 1) for j in jobs] + [(starts[j.index] + j.provider_s, -1) for j in jobs])
    area, level, peak, last = 0.0, 0, 0, EPOCH
    for t, step in events:  # ends sort before starts at the same instant
        if last < until:
            area += level * (min(t, until) - last)
        last = t
        level += step
        peak = max(peak, level)
    return (area / (until - EPOCH) if until > EPOCH else 0.0), peak


# ==== the simulated cloud ===============================================================================
class SimClock:
    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> float:
        return self.now


class TimedMeter(Meter):
    """A Meter that also moves the clock by each request's latency and, in runs that attribute requests to
    what a delivery did (``Simulation.track``), tallies them as ``meter|operation``."""

    def __init__(self, name: str, sim: Simulation) -> None:
        super().__init__()
        self.name, self.sim = name, sim
        self._latency: dict[str, float] = {}
        self._key: dict[str, str] = {}

    def add(self, operation: str, n: int = 1) -> None:
        self.counts[operation] += n
        latency = self._latency.get(operation)
        if latency is None:
            latency = self._latency[operation] = LATENCY_S.get(operation, DEFAULT_LATENCY_S)
            self._key[operation] = f"{self.name}|{operation}"
        sim = self.sim
        sim.clock.now += latency * n
        if sim.track:
            sim.tally[self._key[operation]] += n


class CountingLeaseStore(MeteredLeaseStore):
    """The metered lease store, also counting the items each BatchGetItem reads (each one is read units)."""

    def __init__(self, meter: TimedMeter) -> None:
        super().__init__(meter)
        self.timed = meter

    def read(self, items: list[str]) -> dict[str, Any]:
        self.timed.counts["dynamodb.BatchGetItem.items"] += len(items)
        if self.timed.sim.track:
            self.timed.sim.tally["control|dynamodb.BatchGetItem.items"] += len(items)
        return super().read(items)


class MeteredOnce:
    """Powertools' idempotent_function as the functions use it, with its DynamoDB requests: a conditional
    PutItem per call, an UpdateItem to save the result, a DeleteItem when the function raises."""

    def __init__(self, meter: TimedMeter, clock: SimClock, expires_s: float = 60.0) -> None:
        self.meter, self.clock, self.expires_s = meter, clock, expires_s
        self.records: dict[tuple[str, int], tuple[str, Any]] = {}

    def __call__(self, fn: Callable[[dict[str, Any]], dict[str, Any]], payload: dict[str, Any]) -> dict[str, Any]:
        key = (payload["job_id"], int(payload["redrive"]))
        self.meter.add("dynamodb.PutItem")
        state, value = self.records.get(key, ("", None))
        if state == "COMPLETED":
            return dict(value)
        if state == "INPROGRESS" and value > self.clock():
            raise SubmissionInProgress(f"{key} is in progress")
        self.records[key] = ("INPROGRESS", self.clock() + self.expires_s)
        try:
            result = fn(payload)
        except Exception:
            self.meter.add("dynamodb.DeleteItem")
            del self.records[key]
            raise
        self.meter.add("dynamodb.UpdateItem")
        self.records[key] = ("COMPLETED", result)
        return result


class SimWaker(MemoryWaker):
    """The Wake queue: each message wakes the dispatcher (now, or after its delay)."""

    def __init__(self, meter: TimedMeter, sim: Simulation) -> None:
        super().__init__(meter)
        self.sim = sim

    def wake(self, reason: str = "now") -> None:
        self.meter.add("sqs.SendMessage")
        self.sim.wake_queue.send(self.sim.clock.now, None)

    def wake_later(self, seconds: float, reason: str = "later") -> None:
        self.meter.add("sqs.SendMessage")
        delay = max(0, min(SQS_MAX_DELAY_S, int(round(seconds))))
        self.sim.wake_queue.send(self.sim.clock.now + delay, None)


class SimRows(MemoryRows):
    """The Uploads queue as the batch file's chunks of rows are put back on it (``take_batch``'s ``send``)."""

    def __init__(self, meter: TimedMeter, sim: Simulation) -> None:
        super().__init__(meter)
        self.sim = sim

    def send(self, message: dict[str, Any]) -> None:
        super().send(message)
        self.sim.uploads_queue.send(self.sim.clock.now, None, body=self.sent.pop())


class SimProvider:
    """The provider's create-task call: takes PROVIDER_SUBMIT_S, starts the job's task, schedules its end."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.by_key = {job.key: job for job in sim.jobs}

    def submit(self, request: SubmitRequest) -> str:
        sim = self.sim
        sim.clock.now += PROVIDER_SUBMIT_S
        key = unquote(request.image_url.split(".com/", 1)[1].split("?", 1)[0])
        job = self.by_key[key]
        if job.index in sim.starts:
            raise RuntimeError(f"job {job.index} was submitted twice")
        sim.starts[job.index] = sim.clock.now
        sim.start_order.append(job.index)
        sim.at(sim.clock.now + job.hold_s, sim.END, job.index)
        return f"task-{job.index}"


@dataclass(order=True)
class Message:
    visible_at: float
    seq: int
    index: int | None = field(compare=False)  # the upload (None: a wake, the batch file or a chunk of its rows)
    sent_at: float = field(compare=False, default=0.0)
    delay: float = field(compare=False, default=0.0)
    body: Upload | dict[str, Any] | None = field(compare=False, default=None)  # the batch file's event, a chunk
    receives: int = field(compare=False, default=0)


class SimQueue:
    """An SQS queue read by a Lambda event source: up to ``batch`` visible messages per invocation, at most
    ``pollers`` invocations at once; messages are served in the order they became visible."""

    def __init__(self, sim: Simulation, name: str, batch: int, window: float, pollers: int,
                 handler: Callable[[list[Message], float], float]) -> None:
        self.sim, self.name, self.batch, self.window, self.handler = sim, name, batch, window, handler
        self.busy_until = [0.0] * pollers
        self.messages: list[Message] = []
        self.pending: float | None = None
        self.sent = 0

    def send(self, visible_at: float, index: int | None, delay: float = 0.0,
             body: Upload | dict[str, Any] | None = None) -> None:
        self.sent += 1
        heapq.heappush(self.messages, Message(visible_at, self.sent, index, self.sim.clock.now, delay, body))
        self._kick()

    def back(self, message: Message, visible_at: float) -> None:
        """A record the function did not take (a batch item failure): the queue delivers it again when its
        visibility timeout ends."""
        self.sent += 1
        heapq.heappush(self.messages, dataclasses.replace(message, visible_at=visible_at, seq=self.sent))
        self._kick()

    def _kick(self) -> None:
        if not self.messages:
            return
        when = max(self.messages[0].visible_at, min(self.busy_until)) + self.window
        if self.pending is None or when < self.pending:
            self.pending = when
            self.sim.at(when, self.sim.POLL, self)

    def poll(self, t: float) -> None:
        if self.pending != t:
            return  # superseded by an earlier poll
        self.pending = None
        for p in range(len(self.busy_until)):
            if self.busy_until[p] > t or not self.messages or self.messages[0].visible_at > t:
                continue
            batch: list[Message] = []
            while self.messages and self.messages[0].visible_at <= t and len(batch) < self.batch:
                message = heapq.heappop(self.messages)
                message.receives += 1
                batch.append(message)
            self.sim.esm_requests()
            self.busy_until[p] = self.handler(batch, t)
        self._kick()


class Simulation:
    POLL, END, SCHEDULE = 0, 1, 2

    def __init__(self, design: str, jobs: list[SimJob], *, cap: int = MAX_IN_FLIGHT, per_minute: int = PER_MINUTE,
                 seed: int = SEED) -> None:
        if design not in ALL_DESIGNS:
            raise ValueError(f"unknown design {design!r}")
        self.design, self.jobs, self.cap = design, jobs, cap
        self.clock = SimClock()
        self.track = design == "defer"  # attribute requests to the outcome of each delivery
        self.tally: Counter[str] = Counter()  # requests of the record being processed ("meter|operation")
        self.meters = {name: TimedMeter(name, self) for name in ("s3", "jobs", "control", "idempotency", "sqs",
                                                                 "stepfunctions", "sns")}
        self.bucket = MemoryBucket(BUCKET, self.meters["s3"])
        self.jobs_table = MemoryJobs(self.meters["jobs"])
        self.backlog = MemoryBacklog(self.jobs_table)
        self.leases = CountingLeaseStore(self.meters["control"])
        self.capacity = Capacity(self.leases, cap, per_minute, WINDOW_SECONDS, clock=self.clock,
                                 rng=random.Random(seed))
        self.workflow = MemoryWorkflow(self.meters["stepfunctions"])
        self.once = MeteredOnce(self.meters["idempotency"], self.clock)
        self.provider = SimProvider(self)
        self.rng = random.Random(seed + 1)
        self.events: list[tuple[float, int, int, Any]] = []
        self.seq = 0
        self.starts: dict[int, float] = {}
        self.start_order: list[int] = []
        self.ended = 0
        self.lambda_calls: Counter[str] = Counter()
        self.lambda_seconds: defaultdict[str, float] = defaultdict(float)
        self.log_lines = 0
        self.deliveries: Counter[str] = Counter()  # defer: outcome of each delivery
        self.by_outcome: dict[str, Counter[str]] = {}  # defer: requests by outcome of the delivery
        self.seconds_by_outcome: defaultdict[str, float] = defaultdict(float)
        self.redelivery: list[float] = [0.0, 0.0, 0.0]  # defer: [count, sum of intervals, sum of delays]
        self.batches: Counter[str] = Counter()  # batches and records per queue
        for job in jobs:
            self.bucket.put(job.key, image_bytes(job.index), {"mode": job.mode}, "image/png")
        self.batch_version = self.bucket.put(BATCH_KEY, batch_file(jobs), None, "text/csv") \
            if design == BATCH_DESIGN else None
        self.ledger = MemoryLedger(self.meters["control"])  # a batch's ledger: the control table
        self.notifier = MemoryNotifier(self.meters["sns"])  # the batch summary's SNS message and event
        self.rows = SimRows(self.meters["sqs"], self)
        self.summaries: list[tuple[float, dict[str, Any]]] = []  # (when, the i2v.batch/v1 document)
        self.intake_runs: list[tuple[int, int, float]] = []  # (messages, rows, seconds) of each intake invocation
        self.batch_file_s = 0.0  # function time of taking the batch file itself (read, ledger, claims, fan-out)
        self.batch_file_steps = 0  # its S3 event, then a resume message per step the fan-out needed
        self.batch_file_step_max_s = 0.0
        self.budget_returns = 0  # records the intake handler left for a later delivery (its time budget)
        uploads_handler = self._submit_batch if design == "defer" else self._intake_batch
        self.uploads_queue = SimQueue(self, "uploads", BATCH_SIZE, 0.0, POLLERS, uploads_handler)
        self.wake_queue = SimQueue(self, "wake", BATCH_SIZE, WAKE_BATCHING_WINDOW_S, POLLERS, self._dispatch_batch)
        self.waker = SimWaker(self.meters["sqs"], self)
        s = CapacitySettings(cap, per_minute)
        self.intake = IntakeDeps(settings=IntakeSettings(bucket=BUCKET, jobs_table="jobs", control_table="control",
                                                         state_machine_arn="sm", wake_queue_url="wake"),
                                 bucket=self.bucket, jobs=self.jobs_table, backlog=self.backlog,
                                 workflow=self.workflow, claims=MemoryClaims(self.meters["control"]),
                                 clock=self.clock)
        self.intake.on_batch = lambda job, redrive: take_batch(job, redrive, self.intake, self.ledger, self.rows.send)
        self.dispatch_settings = DispatchSettings(bucket=BUCKET, jobs_table="jobs", control_table="control",
                                                  idempotency_table="idempotency", state_machine_arn="sm",
                                                  wake_queue_url="wake", capacity=s)
        self.dispatcher = Dispatcher(DispatchDeps(
            settings=self.dispatch_settings, backlog=self.backlog, jobs=self.jobs_table, capacity=self.capacity,
            client=lambda: self.provider, bucket=self.bucket, workflow=self.workflow,
            wake_later=self.waker.wake_later, contents=MemoryContents(self.meters["control"]),
            spend=MemorySpend(self.meters["control"]), once=self.once, clock=self.clock, rng=random.Random(seed + 2)))
        self.submitter = DeferSubmitter(self)

    # -- the loop -------------------------------------------------------------------------------------
    def at(self, t: float, kind: int, arg: Any) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, arg))

    def run(self, max_events: int = 50_000_000) -> None:
        if self.design == BATCH_DESIGN:  # one event: the batch file's
            self.meters["sqs"].counts["sqs.SendMessage"] += 1
            self.uploads_queue.send(EPOCH, None, body=Upload(event_name="ObjectCreated:Put", bucket=BUCKET,
                                                             key=BATCH_KEY, version_id=self.batch_version,
                                                             etag=None, event_time=iso(EPOCH)))
        else:
            for job in self.jobs:  # S3 sends each upload's event to the Uploads queue
                self.meters["sqs"].counts["sqs.SendMessage"] += 1
                self.uploads_queue.send(job.uploaded_at, job.index)
        if self.design != "defer":
            self.at(EPOCH + SCHEDULE_S, self.SCHEDULE, None)
        with quiet_observability(self):
            for _ in range(max_events):
                if self.ended == len(self.jobs):
                    return
                if not self.events:
                    raise RuntimeError(f"{self.design}: nothing left to happen, {self.ended} of {len(self.jobs)} "
                                       "jobs ended")
                t, _seq, kind, arg = heapq.heappop(self.events)
                self.clock.now = t
                if kind == self.POLL:
                    arg.poll(t)
                elif kind == self.END:
                    self._end(arg, t)
                else:
                    self._invoke("dispatch", t, lambda start: self._dispatch(start, report=True))
                    if self.ended < len(self.jobs):
                        self.at(t + SCHEDULE_S, self.SCHEDULE, None)
        raise RuntimeError(f"{self.design}: still running after {max_events} events")

    def esm_requests(self) -> None:
        """The event source's own requests for a batch (the Lambda service makes them; they are billed)."""
        counts = self.meters["sqs"].counts
        counts["sqs.ReceiveMessage"] += 1
        counts["sqs.DeleteMessageBatch"] += 1

    def _invoke(self, function: str, start: float, body: Callable[[float], None]) -> float:
        self.clock.now = start
        body(start)
        self.clock.now += INVOCATION_OVERHEAD_S
        self.lambda_calls[function] += 1
        self.lambda_seconds[function] += math.ceil((self.clock.now - start) * 1000) / 1000  # billed per ms
        return self.clock.now

    # -- parked --------------------------------------------------------------------------------------
    def _intake_batch(self, batch: list[Message], start: float) -> float:
        rows = 0

        def body(_start: float) -> None:  # i2v.handlers.intake.handler around the real steps
            nonlocal rows
            outcomes: Counter[Outcome] = Counter()
            for message in batch:
                if INTAKE_TIMEOUT_S - (self.clock.now - start) < INTAKE_RECORD_BUDGET_S:
                    self._not_taken(message, start)
                    continue
                self.clock.now += RECORD_CPU_S
                if isinstance(message.body, Upload):  # the batch file: read, ledger, claims, rows fanned out
                    began = self.clock.now
                    outcomes[take(message.body, self.intake)] += 1
                    self._batch_step(began)
                elif message.body is not None and message.body.get("kind") == RESUME_KIND:  # the fan-out goes on
                    began = self.clock.now
                    assert self.intake.on_batch is not None
                    outcomes[self.intake.on_batch(*resumed_batch(message.body))] += 1
                    self._batch_step(began)
                elif message.body is not None:  # a chunk of its rows: each row becomes a job
                    chunk = Chunk.from_message(message.body)
                    self.clock.now += RECORD_CPU_S * (len(chunk.rows) - 1)
                    taken = take_rows(chunk, self.intake, self.rows.send)
                    rows += len(taken)
                    outcomes.update(taken)
                else:
                    assert message.index is not None
                    outcomes[take(self.upload(message.index), self.intake)] += 1
            if outcomes[Outcome.PARKED]:
                self.waker.wake("parked")
            if outcomes[Outcome.HELD]:  # images waiting out their grace period: look again when it ends
                self.waker.wake_later(self.intake.settings.image_grace_seconds + 1, "grace over")

        self.batches["uploads"] += 1
        self.batches["uploads.records"] += len(batch)
        end = self._invoke("intake", start, body)
        self.intake_runs.append((len(batch), rows, end - start))
        return end

    def _batch_step(self, began: float) -> None:
        """One step of the batch file's fan-out (its S3 event, or a resume message) ended."""
        self.batch_file_s += self.clock.now - began
        self.batch_file_steps += 1
        self.batch_file_step_max_s = max(self.batch_file_step_max_s, self.clock.now - began)

    def _not_taken(self, message: Message, received: float) -> None:
        """The intake handler's time budget ran short before this record: it fails and comes back."""
        self.budget_returns += 1
        if message.receives >= c.MAX_RECEIVE_COUNT:  # the redrive policy moves it to the dead-letter queue
            raise RuntimeError(f"{self.design}: a message went to the dead-letter queue after "
                               f"{message.receives} receives")
        self.uploads_queue.back(message, received + UPLOADS_VISIBILITY_S)

    def _dispatch_batch(self, batch: list[Message], start: float) -> float:
        self.batches["wake"] += 1
        self.batches["wake.records"] += len(batch)
        return self._invoke("dispatch", start, lambda s: self._dispatch(s, report=False))

    def _dispatch(self, start: float, report: bool) -> None:
        self.dispatcher.run(lambda: DISPATCH_TIMEOUT_S - (self.clock.now - start), report=report)

    def upload(self, index: int) -> Upload:
        job = self.jobs[index]
        return Upload(event_name="ObjectCreated:Put", bucket=BUCKET, key=job.key, version_id=job.version,
                      etag=None, event_time=iso(job.uploaded_at))

    # -- the end of a job: what the store step does with capacity ----------------------------------------
    def _end(self, index: int, t: float) -> None:
        job = self.jobs[index]
        self.clock.now = t
        if self.capacity.release(job.job_id) and self.design != "defer":
            self.waker.wake("slot")  # the store step wakes the dispatcher when it freed a slot
        if self.design == BATCH_DESIGN:  # after its notification, the store step counts the row in its ledger
            record = self.jobs_table.items[job.job_id]
            note = {"job_id": job.job_id, "status": "SUCCEEDED", "batch": record["batch"],
                    "cost": {"estimated_usd": record.get("price_usd")}}
            done = close_row(note, self.ledger, self.bucket, self.notifier.publish, t)
            if done is not None:
                self.summaries.append((t, done))
        self.workflow.finish(keys.execution_name(job.job_id))
        self.ended += 1

    # -- defer -----------------------------------------------------------------------------------------
    def _submit_batch(self, batch: list[Message], start: float) -> float:
        def body(_start: float) -> None:
            for message in batch:
                assert message.index is not None
                began = self.clock.now
                self.tally.clear()
                self.clock.now += RECORD_CPU_S
                if message.delay:
                    self.redelivery[0] += 1
                    self.redelivery[1] += began - message.sent_at
                    self.redelivery[2] += message.delay
                outcome = self.submitter.process(message)
                if not message.delay:
                    outcome = "first-" + outcome  # the upload's first delivery, not a return from the queue
                self.deliveries[outcome] += 1
                self.by_outcome.setdefault(outcome, Counter()).update(self.tally)
                self.seconds_by_outcome[outcome] += self.clock.now - began

        self.batches["uploads"] += 1
        self.batches["uploads.records"] += len(batch)
        return self._invoke("submit", start, body)

    # -- results ---------------------------------------------------------------------------------------
    def requests(self) -> Counter[str]:
        """Every request, keyed ``meter|operation`` (the meter names the DynamoDB table)."""
        out: Counter[str] = Counter()
        for name, meter in self.meters.items():
            for operation, n in meter.counts.items():
                out[f"{name}|{operation}"] += n
        return out


# ==== today's design, rebuilt on the new building blocks ===============================================
class DeferSubmitter:
    """The old submit step (git 6d760af, ``Submitter.process``) on today's building blocks: build and
    validate the job on every delivery, try capacity inside idempotency, and at capacity send the event
    back to the queue with a delay (no faults here, so the provider-error branches are left out)."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.settings = sim.intake.settings
        self.time_scale = 1.0
        self.rng = random.Random(SEED + 3)

    def process(self, message: Message) -> str:
        sim = self.sim
        assert message.index is not None
        upload = sim.upload(message.index)
        job = identify(Source(BUCKET, upload.key, version_id=upload.version_id), self.settings.uploads_prefix,
                       self.settings.outputs_prefix)
        assert isinstance(job, Job)
        job.uploaded_at = upload.event_time
        job.timings["uploaded_at"] = job.uploaded_at
        existing = sim.jobs_table.get(job.job_id)
        if existing and existing.get("status") in OLD_FINAL_STATUSES:
            return "duplicate"
        if not existing:
            sim.jobs_table.update(job.job_id, status=JobStatus.QUEUED.value, source=job.source.to_dict(),
                                  kind=job.kind.value, video_key=job.video_key, manifest_key=job.manifest_key,
                                  uploaded_at=job.uploaded_at, updated_at=iso(sim.clock()))
        prepared = prepare(job, sim.bucket, self.settings.uploads_prefix, self.settings.defaults)
        sim.jobs_table.update(job.job_id, request=job.request, image_key=job.image_key)
        payload = {"job_id": job.job_id, "redrive": 0, "job": job.to_dict(), "mode": prepared.params.mode}
        try:
            outcome = sim.once(self._submit_to_provider, payload)
        except AtCapacity as exc:
            self._defer(message, exc.retry_after)
            return "deferred-rate" if exc.rate_limited else "deferred"
        job.timings["submitted_at"] = outcome["submitted_at"]
        state = WorkflowState.started(job, Task(outcome["task_id"], outcome["submitted_at"]),
                                      deadline_at=float(outcome["deadline_at"]),
                                      first_wait=scaled(DEFAULT_POLICY.first_wait(prepared.params.mode), 1.0))
        sim.workflow.start(keys.execution_name(job.job_id), state.to_dict())
        sim.jobs_table.update(job.job_id, status=JobStatus.GENERATING.value, task_id=outcome["task_id"],
                              submitted_at=outcome["submitted_at"], updated_at=iso(sim.clock()))
        sim.log_lines += 1  # "task submitted and workflow started"
        return "started"

    def _submit_to_provider(self, payload: dict[str, Any]) -> dict[str, Any]:
        sim = self.sim
        job = Job.from_dict(payload["job"])
        deadline = sim.dispatch_settings.deadline_for(payload["mode"])
        sim.capacity.acquire(job.job_id, lease_seconds=deadline + 300 / self.time_scale)
        now = sim.clock()
        if not sim.jobs_table.mark_submit_started(job.job_id, iso(now)):
            raise RuntimeError("a submission was started twice in a run without faults")
        pin = job.image_pin
        request = SubmitRequest(
            image_url=sim.bucket.presign_get(job.image_key or job.source.key, c.DEFAULT_IMAGE_URL_TTL,
                                             pin.version_id if pin else None),
            end_image_url=None, prompt=(job.request or {})["prompt"], mode=(job.request or {}).get("mode"),
            negative_prompt=(job.request or {}).get("negative_prompt"), duration=(job.request or {}).get("duration"),
            guidance_scale=(job.request or {}).get("guidance_scale"))
        task_id = sim.provider.submit(request)
        return {"task_id": task_id, "submitted_at": iso(now), "deadline_at": now + deadline}

    def _defer(self, message: Message, provider_seconds: float) -> None:
        sim = self.sim
        jitter = 1.0 + self.rng.random() * OLD_JITTER
        delay = max(0, min(SQS_MAX_DELAY_S, int(round(provider_seconds * jitter / self.time_scale))))
        sim.meters["sqs"].add("sqs.SendMessage")
        sim.log_lines += 1  # "job goes back to the queue"
        assert message.index is not None
        sim.uploads_queue.send(sim.clock.now + delay, message.index, float(delay))


# ==== figures of one run =================================================================================
def _per_video(counts: Mapping[str, float], n: int) -> dict[str, float]:
    return {k: v / n for k, v in counts.items()}


def by_service(requests: Mapping[str, float]) -> dict[str, float]:
    """Requests keyed ``meter|operation`` summed by AWS service (BatchGetItem items are not requests)."""
    out: defaultdict[str, float] = defaultdict(float)
    for key, n in requests.items():
        _meter, operation = key.split("|", 1)
        if operation.endswith(".items"):
            continue
        out[operation.split(".", 1)[0]] += n
    return dict(out)


def by_operation(requests: Mapping[str, float]) -> dict[str, float]:
    out: defaultdict[str, float] = defaultdict(float)
    for key, n in requests.items():
        out[key.split("|", 1)[1]] += n
    return dict(out)


def price(requests: Mapping[str, float], lambda_calls: Mapping[str, float], lambda_seconds: Mapping[str, float],
          log_lines: float, workflow: Mapping[str, float]) -> dict[str, float]:
    """AWS $ per video by service: the measured front part plus the workflow's per-video constant."""
    front = costs.requests_usd(requests)
    for function, calls in lambda_calls.items():
        front["lambda"] = front.get("lambda", 0.0) + costs.lambda_usd(function, calls, lambda_seconds.get(function, 0.0))
    front["logs"] = front.get("logs", 0.0) + costs.logs_usd(
        sum(costs.LOG_BYTES_PER_INVOCATION * n for n in lambda_calls.values()) + costs.LOG_BYTES_PER_LINE * log_lines)
    for service, usd in workflow.items():
        front[service] = front.get(service, 0.0) + usd
    return front


def summarise(sim: Simulation, workflow: Mapping[str, float], wall: float) -> dict[str, Any]:
    jobs, n = sim.jobs, len(sim.jobs)
    if len(sim.starts) != n:
        raise RuntimeError(f"{sim.design}: {len(sim.starts)} of {n} uploads started")
    waits = [sim.starts[j.index] - j.uploaded_at for j in jobs]
    ideal, drain = ideal_drain(jobs)
    last_start = max(sim.starts.values())
    mean_in_flight, peak = provider_in_flight(jobs, sim.starts, last_start)
    if peak > sim.cap:
        raise RuntimeError(f"{sim.design}: {peak} tasks in flight at the provider, cap {sim.cap}")
    requests = sim.requests()
    per_video = _per_video(requests, n)
    calls = _per_video(sim.lambda_calls, n)
    seconds = _per_video(sim.lambda_seconds, n)
    usd = price(per_video, calls, seconds, sim.log_lines / n, workflow)
    return {
        **_figures(sim.design, n, per_video, usd, calls, seconds, waits, drain, modelled=False),
        "drain_s": round(last_start - EPOCH, 1),
        **order_stats(sim.start_order),
        "provider_in_flight_mean": round(mean_in_flight, 2), "provider_in_flight_peak": peak,
        "sim_wall_s": round(wall, 1),
        **({"batch": batch_figures(sim)} if sim.design == BATCH_DESIGN else {}),
        # by upload position, for the plot (not in results.json)
        "_waits": waits if n <= 10_000 else None,
        "_ideal_waits": [ideal[j.index] - j.uploaded_at for j in jobs] if n <= 10_000 else None,
    }


def _figures(design: str, n: int, per_video: Mapping[str, float], usd: Mapping[str, float],
             calls: Mapping[str, float], seconds: Mapping[str, float], waits: list[float], drain: float, *,
             modelled: bool) -> dict[str, Any]:
    """The figures every design reports alike: requests and dollars per video (in all and by service,
    operation and function) and how long uploads waited against the ideal drain."""
    services = by_service(per_video)
    return {
        "design": design, "uploads": n,
        "requests_per_video": round(sum(services.values()), 2),
        "usd_per_video": round(sum(usd.values()), 7),
        "wait_p50_s": round(percentile(waits, 50), 1), "wait_p95_s": round(percentile(waits, 95), 1),
        "wait_max_s": round(max(waits), 1), "ideal_drain_s": round(drain, 1),
        "modelled": modelled,
        "requests_by_service": {k: round(v, 3) for k, v in sorted(services.items())},
        "requests_by_operation": {k: round(v, 3) for k, v in sorted(by_operation(per_video).items())},
        "usd_by_service": {k: round(v, 8) for k, v in sorted(usd.items())},
        "lambda_invocations_per_video": {k: round(v, 3) for k, v in sorted(calls.items())},
        "lambda_seconds_per_video": {k: round(v, 3) for k, v in sorted(seconds.items())},
        "wait_max_vs_ideal_drain": round(max(waits) / drain, 4) if drain else None,
    }


def batch_figures(sim: Simulation) -> dict[str, Any]:
    """What a batch file's run adds: its one summary and when it came, and how long intake took it."""
    n = len(sim.jobs)
    if len(sim.summaries) != 1:
        raise RuntimeError(f"{sim.design}: {len(sim.summaries)} batch summaries for one batch file")
    sent_at, summary = sim.summaries[0]
    last_end = max(sim.starts[j.index] + j.hold_s for j in sim.jobs)
    parked = [parse_iso(item["parked_at"]) for item in sim.jobs_table.items.values() if item.get("parked_at")]
    rows_runs = [run for run in sim.intake_runs if run[1]]
    return {
        "rows": n, "chunk_rows": c.BATCH_CHUNK_ROWS, "chunks": math.ceil(n / c.BATCH_CHUNK_ROWS),
        "summaries": len(sim.summaries), "summary_schema": summary["schema"], "summary_counts": summary["counts"],
        "summary_after_s": summary["timings"]["total_seconds"],
        "summary_after_last_row_end_s": round(sent_at - last_end, 3),
        "last_row_parked_s": round(max(parked) - EPOCH, 1),
        "batch_file_intake_s": round(sim.batch_file_s, 1), "batch_file_steps": sim.batch_file_steps,
        "batch_file_step_max_s": round(sim.batch_file_step_max_s, 1), "intake_timeout_s": INTAKE_TIMEOUT_S,
        "rows_invocation_max_s": round(max(run[2] for run in rows_runs), 1),
        "rows_per_invocation_max": max(run[1] for run in rows_runs),
        "records_left_for_a_later_delivery": sim.budget_returns,
    }


def simulate(design: str, jobs: list[SimJob]) -> tuple[Simulation, float]:
    started = time.perf_counter()
    sim = Simulation(design, jobs)
    sim.run()
    return sim, time.perf_counter() - started


# ==== the baseline beyond 1,000 uploads: a model calibrated on its real-code runs ========================
@dataclass
class DeferModel:
    """Today's design at any size, from what its real-code runs measured.

    - every delivery of a waiting upload that does not start it costs ``per_deferral`` requests and
      ``seconds_per_deferral`` of the submit function; everything else (the first record, the start,
      the slot given back, the S3 event) is ``rest`` per video;
    - a deferred message comes back after ``interval_s`` (the delay rule, 60-90 s, plus its wait in the
      queue), unless the two pollers cannot keep up: they deliver at most ``deliveries_per_s``, so with
      n uploads waiting the deliveries run at min(n / interval_s, deliveries_per_s) a second;
    - which waiting upload takes a freed slot is random (whichever message comes back first), and it
      takes it after the next delivery (exponential, at that rate) plus ``start_s`` of processing.
    """

    per_deferral: dict[str, float]
    rest: dict[str, float]
    seconds_per_deferral: float
    seconds_rest: float  # submit-function seconds per video outside deferrals
    interval_s: float
    deliveries_per_s: float
    start_s: float
    esm_fill_unsaturated: float  # messages per batch while the pollers keep up
    first_starts: float  # share of uploads started at their first delivery
    calibrated_on: list[int]

    @classmethod
    def calibrate(cls, runs: list[Simulation]) -> DeferModel:
        """Requests and seconds per deferral from every run; what the rest costs per video from the
        largest; the re-delivery interval and batch fill from the smallest (where the pollers keep up)."""
        deferrals = 0.0
        per_deferral: Counter[str] = Counter()
        seconds_deferral = 0.0
        for sim in runs:
            for outcome in ("deferred", "deferred-rate"):
                per_deferral.update(sim.by_outcome.get(outcome, Counter()))
                deferrals += sim.deliveries[outcome]
                seconds_deferral += sim.seconds_by_outcome[outcome]
        big = max(runs, key=lambda s: len(s.jobs))
        small = min(runs, key=lambda s: len(s.jobs))
        n = len(big.jobs)
        d_big = big.deliveries["deferred"] + big.deliveries["deferred-rate"]
        per_def = {k: v / deferrals for k, v in per_deferral.items()}
        esm = {"sqs|sqs.ReceiveMessage", "sqs|sqs.DeleteMessageBatch"}
        rest = {k: (v - d_big * per_def.get(k, 0.0)) / n for k, v in big.requests().items() if k not in esm}
        sec_def = seconds_deferral / deferrals
        sec_rest = (big.lambda_seconds["submit"] - big.lambda_calls["submit"] * INVOCATION_OVERHEAD_S
                    - d_big * sec_def) / n
        starts = big.deliveries["started"] + big.deliveries["first-started"]
        start_s = (big.seconds_by_outcome["started"] + big.seconds_by_outcome["first-started"]) / max(1, starts)
        count, total, _delays = small.redelivery
        batch_seconds = BATCH_SIZE * sec_def + INVOCATION_OVERHEAD_S
        return cls(per_deferral=per_def, rest=rest, seconds_per_deferral=sec_def, seconds_rest=sec_rest,
                   interval_s=total / count if count else 75.0,
                   deliveries_per_s=POLLERS * BATCH_SIZE / batch_seconds, start_s=start_s,
                   esm_fill_unsaturated=small.batches["uploads.records"] / small.batches["uploads"],
                   first_starts=big.deliveries["first-started"] / n,
                   calibrated_on=sorted(len(s.jobs) for s in runs))

    def rate(self, waiting: int) -> float:
        return min(waiting / self.interval_s, self.deliveries_per_s)

    def predict(self, jobs: list[SimJob], workflow: Mapping[str, float], seed: int = SEED) -> dict[str, Any]:
        n = len(jobs)
        rng = random.Random(seed + 7)
        first = list(range(min(n, MAX_IN_FLIGHT)))
        rest = list(range(len(first), n))
        rng.shuffle(rest)
        order = first + rest

        def pickup(waiting: int, _free_at: float) -> float:
            lam = self.rate(waiting)
            return (rng.expovariate(lam) if lam > 0 else 0.0) + self.start_s

        starts = list_schedule(jobs, order, pickup=pickup)
        times = sorted(starts.values())
        deliveries = saturated = 0.0
        last = EPOCH
        for started, t in enumerate(times):
            waiting = n - started
            span = t - last
            lam = self.rate(waiting)
            deliveries += lam * span
            if lam >= self.deliveries_per_s:
                saturated += lam * span
            last = t
        # every upload has one first delivery and one start (counted in ``rest``); the other deliveries defer
        deferrals = max(0.0, deliveries - 2 * n + self.first_starts * n)
        # batches: full while the pollers are saturated, else as measured at the small size
        batches = saturated / BATCH_SIZE + (deliveries - saturated) / self.esm_fill_unsaturated
        per_video: defaultdict[str, float] = defaultdict(float)
        for k, v in self.rest.items():
            per_video[k] += v
        for k, v in self.per_deferral.items():
            per_video[k] += v * deferrals / n
        per_video["sqs|sqs.ReceiveMessage"] += batches / n
        per_video["sqs|sqs.DeleteMessageBatch"] += batches / n
        calls = {"submit": batches / n}
        seconds = {"submit": self.seconds_rest + self.seconds_per_deferral * deferrals / n
                   + INVOCATION_OVERHEAD_S * batches / n}
        log_lines = (deferrals + n) / n  # one line per deferral, one per start
        usd = price(per_video, calls, seconds, log_lines, workflow)
        waits = [starts[j.index] - j.uploaded_at for j in jobs]
        _ideal, drain = ideal_drain(jobs)
        start_order = sorted(starts, key=starts.__getitem__)
        mean_in_flight, _peak = provider_in_flight(jobs, starts, max(times))
        return {
            **_figures("defer", n, per_video, usd, calls, seconds, waits, drain, modelled=True),
            "drain_s": round(max(times) - EPOCH, 1),
            **order_stats(start_order),
            "provider_in_flight_mean": round(mean_in_flight, 2),
            "deliveries_per_video": round(deliveries / n, 1),
            "saturated_share_of_deliveries": round(saturated / deliveries, 3) if deliveries else 0.0,
        }

    def describe(self) -> dict[str, Any]:
        return {"calibrated_on_uploads": self.calibrated_on,
                "requests_per_deferral": round(sum(v for k, v in self.per_deferral.items()
                                                   if not k.endswith(".items")), 2),
                "submit_seconds_per_deferral": round(self.seconds_per_deferral, 4),
                "redelivery_interval_s": round(self.interval_s, 1),
                "max_deliveries_per_s": round(self.deliveries_per_s, 2),
                "start_processing_s": round(self.start_s, 3),
                "messages_per_batch_unsaturated": round(self.esm_fill_unsaturated, 2)}


MODEL_CHECKED = ("requests_per_video", "usd_per_video", "wait_p50_s", "wait_p95_s", "wait_max_s", "drain_s",
                 "in_order_fraction")


def model_error(model_row: Mapping[str, Any], real_row: Mapping[str, Any]) -> dict[str, float]:
    """Relative error of the model against a real-code run (model / real - 1), per figure."""
    return {k: round(model_row[k] / real_row[k] - 1, 4) for k in MODEL_CHECKED if real_row.get(k)}


# ==== the section ======================================================================================
PARALLEL_FROM = 50_000  # a run this large goes to a second process


class _Side:
    """One function run in a forked process (the simulation is deterministic: only the wall time changes)."""

    def __init__(self, fn: Callable[[], dict[str, Any]]) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)

        def target() -> None:
            try:
                send.send(("ok", fn()))
            except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
                send.send(("error", f"{type(exc).__name__}: {exc}"))
            finally:
                send.close()

        self._process = context.Process(target=target, daemon=True)
        self._process.start()
        send.close()

    def result(self) -> dict[str, Any]:
        try:
            kind, value = self._receive.recv()
        except EOFError:
            raise RuntimeError("the side simulation died without an answer") from None
        finally:
            self._process.join()
        if kind != "ok":
            raise RuntimeError(f"the side simulation failed: {value}")
        return dict(value)



def workflow_constant(adaptive: Mapping[str, Any] | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """The workflow's AWS $ per video by service (polls, transitions, store), from the polling section's
    adaptive row (``adaptive``, else computed again: the same jobs and seed), and the figures it rests on."""
    figures = ({"polls_per_job": adaptive["polls_per_job"], "transitions_per_job": adaptive["transitions_per_job"],
                "source": "polling section, adaptive"} if adaptive else adaptive_figures())
    return costs.workflow_usd(figures["polls_per_job"], figures["transitions_per_job"]), figures


@cache
def adaptive_figures() -> dict[str, Any]:
    """The polling section's adaptive polls and transitions per job (its jobs, its seed)."""
    from i2v_bench import asl

    polls = [jobmodel.run_job(j, DEFAULT_POLICY, jobmodel.SEED)[1] for j in jobmodel.make_jobs(jobmodel.JOBS)]
    return {"polls_per_job": round(mean(polls), 3),
            "transitions_per_job": round(mean([asl.transitions(p) for p in polls]), 3),
            "source": f"polling model, adaptive, {jobmodel.JOBS} jobs"}


@cache
def front_per_video(uploads: int = 100) -> dict[str, float]:
    """The parked design's intake + dispatch $ per video by service (no workflow part), at ``uploads``."""
    sim, _wall = simulate("parked", population(uploads))
    n = len(sim.jobs)
    return price(_per_video(sim.requests(), n), _per_video(sim.lambda_calls, n), _per_video(sim.lambda_seconds, n),
                 sim.log_lines / n, {})


def run(quick: bool = False, sizes: tuple[int, ...] | None = None, real_defer_max: int | None = None,
        adaptive: Mapping[str, Any] | None = None, progress: Callable[[str], None] = print,
        batch_rows: int | None = None) -> dict[str, Any]:
    """Every size for both designs, and the parked design fed by one batch file of ``batch_rows`` rows (0: not
    run). ``adaptive``: the polling section's adaptive row (polls, transitions)."""
    sizes = sizes or (QUICK_SIZES if quick else SIZES)
    real_max = real_defer_max if real_defer_max is not None else (QUICK_REAL_DEFER_MAX if quick else REAL_DEFER_MAX)
    batch_rows = (QUICK_BATCH_ROWS if quick else BATCH_ROWS) if batch_rows is None else batch_rows
    workflow, figures = workflow_constant(adaptive)
    everyone = population(max(*sizes, batch_rows))
    rows: list[dict[str, Any]] = []
    defer_runs: list[Simulation] = []
    real_defer: dict[int, dict[str, Any]] = {}

    def one(design: str, size: int) -> tuple[dict[str, Any], Simulation]:
        jobs = batch_rows_of(everyone[:size]) if design == BATCH_DESIGN else everyone[:size]
        sim, wall = simulate(design, jobs)
        row = summarise(sim, workflow, wall)
        progress(f"  backlog {design:<12} {size:>7} uploads: {row['requests_per_video']:8.1f} requests/video, "
                 f"${row['usd_per_video']:.5f}/video, wait max {row['wait_max_s'] / 3600:6.1f} h "
                 f"(ideal {row['ideal_drain_s'] / 3600:.1f} h), in order {row['in_order_fraction']:.0%}, "
                 f"{wall:.1f} s")
        return row, sim

    # The largest parked run takes longest: on a second core while the others run (results do not depend on it).
    biggest = max(sizes)
    side = _Side(lambda: one("parked", biggest)[0]) if biggest >= PARALLEL_FROM else None
    for size in sizes:
        for design in DESIGNS:
            if (design == "defer" and size > real_max) or (side and design == "parked" and size == biggest):
                continue
            row, sim = one(design, size)
            rows.append(row)
            if design == "defer":
                defer_runs.append(sim)
                real_defer[size] = row
            del sim
    if batch_rows:
        rows.append(one(BATCH_DESIGN, batch_rows)[0])
    if side:
        rows.append(side.result())
    model = DeferModel.calibrate(defer_runs)
    check_size = max(real_defer)
    check = model.predict(everyone[:check_size], workflow)
    error = model_error(check, real_defer[check_size])
    for size in sizes:
        if size > real_max:
            row = model.predict(everyone[:size], workflow)
            row["model"] = model.describe()
            row["model_error_at_real_size"] = {"uploads": check_size, **error}
            unbounded = dataclasses.replace(model, deliveries_per_s=math.inf).predict(everyone[:size], workflow)
            row["if_pollers_kept_up"] = {k: unbounded[k] for k in ("requests_per_video", "usd_per_video",
                                                                   "deliveries_per_video")}
            rows.append(row)
            progress(f"  backlog defer        {size:>7} uploads (modelled): {row['requests_per_video']:8.1f} requests/video, "
                     f"${row['usd_per_video']:.5f}/video, wait max {row['wait_max_s'] / 3600:6.1f} h")
    workflow_row = {"polls_per_job": figures["polls_per_job"], "transitions_per_job": figures["transitions_per_job"],
                    "usd": round(sum(workflow.values()), 8)}
    for row in rows:
        row["workflow_per_video"] = workflow_row
    rows.sort(key=lambda r: (r["uploads"], ALL_DESIGNS.index(r["design"])))
    return {"rows": rows, "meta": {
        "sizes": list(sizes), "batch_rows": batch_rows, "real_defer_max": real_max, "caps": {"max_in_flight": MAX_IN_FLIGHT,
                                                                   "submits_per_minute": PER_MINUTE},
        "workflow_per_video": {"usd_by_service": {k: round(v, 8) for k, v in workflow.items()}, **figures},
        "model": model.describe(), "model_check": {"uploads": check_size, "model": check, "error": error},
        "service_time": {"latency_s": LATENCY_S, "provider_submit_s": PROVIDER_SUBMIT_S,
                         "record_cpu_s": RECORD_CPU_S, "invocation_overhead_s": INVOCATION_OVERHEAD_S},
        "lanes": [lane.value for lane in LANES]}}
