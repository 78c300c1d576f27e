"""A whole pipeline on the in-memory adapters for the pay-once-per-content and spend-budget tests:
uploads go through the real intake (the content key is computed from the bytes), the real dispatcher
(with the content registry and the spend ledger) and the real store step.

Handed out as the ``pipeline`` fixture (a factory): nothing can be imported from a conftest file."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from i2v.capacity import Capacity
from i2v.clock import iso
from i2v.contracts.prices import price_table
from i2v.contracts.state import Poll, WorkflowState
from i2v.contracts.status import PollState, Stage
from i2v.settings import Capacity as CapacitySettings
from i2v.settings import DispatchSettings, IntakeSettings
from i2v.spend import Budget
from i2v.steps.dispatch import DispatchDeps, Dispatcher
from i2v.steps.intake import IntakeDeps, Outcome, Upload, take
from i2v.steps.store import StoreDeps, store
from i2v_local.memory import (
    MemoryBacklog,
    MemoryBucket,
    MemoryClaims,
    MemoryContents,
    MemoryJobs,
    MemoryNotifier,
    MemoryOutputNames,
    MemorySpend,
    MemoryWaker,
    MemoryWorkflow,
    Meter,
    MeteredLeaseStore,
)

BUCKET = "media"
FOREVER = lambda: 900.0  # noqa: E731 - seconds left in an invocation


class Provider:
    """The provider: accepts each submission as a new task (paid), unless a reply is scripted."""

    def __init__(self) -> None:
        self.submitted: list[Any] = []  # every request that reached it
        self.tasks: dict[str, Any] = {}  # task id -> request: the paid ones
        self.replies: list[BaseException | Callable[[Any], None]] = []

    def submit(self, request: Any) -> str:
        self.submitted.append(request)
        if self.replies:
            reply = self.replies.pop(0)
            if isinstance(reply, BaseException):
                raise reply
            reply(request)
        task = f"task-{len(self.tasks)}"
        self.tasks[task] = request
        return task


class Pipeline:
    def __init__(self, clock: Any, *, max_in_flight: int = 10, per_minute: int = 1000, versioned: bool = True,
                 budget: Budget | None = None, prices: dict[str, Any] | None = None, contents: bool = True,
                 spend: bool = True) -> None:
        self.clock = clock
        self.meter = Meter()
        self.bucket = MemoryBucket(BUCKET, self.meter, versioned=versioned)
        self.jobs = MemoryJobs(self.meter)
        self.backlog = MemoryBacklog(self.jobs)
        self.workflow = MemoryWorkflow(self.meter)
        self.waker = MemoryWaker(self.meter)
        self.leases = MeteredLeaseStore(self.meter)
        self.capacity = Capacity(self.leases, max_in_flight, per_minute, 60.0, clock=clock, rng=random.Random(1))
        self.contents = MemoryContents(self.meter) if contents else None
        self.spend = MemorySpend(self.meter) if spend else None
        self.provider = Provider()
        self.notifier = MemoryNotifier(self.meter)
        self.names = MemoryOutputNames(self.meter)
        self.intake = IntakeDeps(
            settings=IntakeSettings(bucket=BUCKET, jobs_table="jobs", control_table="control", state_machine_arn="sm",
                                    wake_queue_url="wake", image_grace_seconds=0),
            bucket=self.bucket, jobs=self.jobs, backlog=self.backlog, workflow=self.workflow,
            claims=MemoryClaims(self.meter), clock=clock)
        self.settings = DispatchSettings(bucket=BUCKET, jobs_table="jobs", control_table="control",
                                         idempotency_table="idem", state_machine_arn="sm", wake_queue_url="wake",
                                         capacity=CapacitySettings(max_in_flight, per_minute), submit_max_attempts=3,
                                         prices=price_table(prices or {}), budget=budget or Budget())
        self.stored: set[str] = set()
        self.videos: dict[str, bytes] = {}  # task id -> the bytes the provider made

    # -- uploads ---------------------------------------------------------------------------------
    def put(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> Upload:
        """Upload an object (the user's doing) and return its event."""
        self.clock.advance(0.5)
        version = self.bucket.put(key, data, metadata)
        head = self.bucket.head(key)
        assert head is not None
        return Upload(event_name="ObjectCreated:Put", bucket=BUCKET, key=key, version_id=version, etag=head.etag,
                      sequencer=f"{int(self.clock() * 1000):016X}", event_time=iso(self.clock()))

    def upload(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> str:
        """Upload and take the event: the job's id (parked)."""
        event = self.put(key, data, metadata)
        assert take(event, self.intake) == Outcome.PARKED
        return self.job_of(key, event.version_id)

    def job_of(self, key: str, version: str | None = None) -> str:
        found = [j for j, item in self.jobs.items.items()
                 if (item.get("source") or {}).get("key") == key
                 and (version is None or item["source"].get("version_id") == version)]
        assert found, key
        return found[-1]

    # -- dispatch and the workflows ----------------------------------------------------------------
    def dispatcher(self, client: Any = None) -> Dispatcher:
        return Dispatcher(DispatchDeps(
            settings=self.settings, backlog=self.backlog, jobs=self.jobs, capacity=self.capacity,
            client=lambda: client or self.provider, bucket=self.bucket, workflow=self.workflow,
            wake_later=self.waker.wake_later, contents=self.contents, spend=self.spend, clock=self.clock,
            rng=random.Random(2)))

    def dispatch(self, report: bool = False) -> Any:
        return self.dispatcher().run(FOREVER, report=report)

    def finish(self) -> list[dict[str, Any]]:
        """Every workflow that has not ended runs to its end now (a started task's video is ready): the
        notifications this published."""
        before = len(self.notifier.published)
        for name, data in list(self.workflow.executions.items()):
            if name in self.stored:
                continue
            self.stored.add(name)
            state = WorkflowState.from_dict(json.loads(json.dumps(data)), Stage.POLL)
            if state.error is None and state.poll.state == PollState.WAITING:
                assert state.task is not None
                state.poll = Poll(state=PollState.SUCCEEDED, video_url=f"https://cdn.example/{state.task.task_id}",
                                  provider_status="TASK_STATUS_SUCCEED", polls=1)
            self.clock.advance(1.0)
            store(state, self.store_deps())
            self.workflow.finish(name)
        return self.notifier.published[before:]

    def store_deps(self) -> StoreDeps:
        return StoreDeps(bucket=self.bucket, notifier=self.notifier, jobs=self.jobs,
                         release_slot=self.capacity.release, copy_video=self._copy, names=self.names,
                         wake_dispatcher=self.waker.wake, contents=self.contents, clock=self.clock)

    def _copy(self, url: str, upload: Callable[[Any], None]) -> int:
        task = url.rsplit("/", 1)[1]
        data = self.videos.setdefault(task, b"\x00\x00\x00\x20ftypisom" + task.encode() * 64)
        upload(io.BytesIO(data))
        return len(data)

    def run(self, rounds: int = 4, wait: float = 31.0) -> list[dict[str, Any]]:
        """Dispatch and finish until nothing moves (jobs waiting for their content's producer look again
        after ``wait`` seconds): the notifications published."""
        out: list[dict[str, Any]] = []
        for _ in range(rounds):
            self.dispatch()
            out += self.finish()
            self.clock.advance(wait)
        return out

    # -- what came out -----------------------------------------------------------------------------
    def notification(self, job_id: str) -> dict[str, Any]:
        (note,) = [n for n in self.notifier.published if n["job_id"] == job_id]
        return note

    def served(self, note: dict[str, Any]) -> bytes:
        """What the notification's URL serves."""
        return self.bucket.fetch(note["output"]["url"])

    def paid(self) -> int:
        return len(self.provider.tasks)


@pytest.fixture
def pipeline(clock) -> Callable[..., Pipeline]:
    return lambda **kw: Pipeline(clock, **kw)
