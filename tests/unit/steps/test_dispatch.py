"""The dispatch step: waiting jobs start first in first out while capacity is free; crashes and
duplicates never lose a job, pay twice, leak capacity or pass the cap."""

from __future__ import annotations

import random
from typing import Any

import pytest

from i2v.backlog import order_key
from i2v.capacity import Capacity
from i2v.clock import iso
from i2v.contracts.errors import ErrorCode
from i2v.contracts.job import Job, JobKind, Pin, Source
from i2v.contracts.status import JobStatus, PollState, Priority
from i2v.errors import SubmissionInProgress
from i2v.jobs.keys import execution_name
from i2v.provider.errors import ProviderRateLimited, ProviderRejected, ProviderUnavailable, SubmitReplyLost
from i2v.settings import Capacity as CapacitySettings
from i2v.settings import DispatchSettings
from i2v.steps.dispatch import DispatchDeps, Dispatcher
from i2v_local.lambda_runner import LambdaCrash

FOREVER = lambda: 900.0  # noqa: E731 - seconds left in the invocation


class Idempotency:
    """Powertools' idempotent_function as the dispatcher sees it: a completed call replays its result,
    one that crashed (BaseException) stays in progress until its window ends, a failed one is forgotten."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.records: dict[tuple[str, int], tuple[str, Any]] = {}

    def __call__(self, fn, payload: dict) -> dict:
        key = (payload["job_id"], payload["redrive"])
        state, value = self.records.get(key, (None, None))
        if state == "COMPLETED":
            return value
        if state == "INPROGRESS" and value > self.clock():
            raise SubmissionInProgress(f"{key} is in progress")
        self.records[key] = ("INPROGRESS", self.clock() + 60)
        try:
            result = fn(payload)
        except Exception:
            del self.records[key]
            raise
        self.records[key] = ("COMPLETED", result)
        return result


class World:
    """The dispatcher's collaborators, all in memory, and a way to park jobs."""

    def __init__(self, fakes, clock, *, max_in_flight: int = 2, per_minute: int = 20, max_attempts: int = 3) -> None:
        self.fakes, self.clock = fakes, clock
        self.meter = fakes.Meter()
        self.bucket = fakes.Bucket("media", self.meter)
        self.jobs = fakes.JobsTable(self.meter)
        self.backlog = fakes.Backlog(self.jobs)
        self.workflow = fakes.Workflow(self.meter)
        self.waker = fakes.Waker(self.meter)
        self.leases = fakes.LeaseStore(self.meter)
        self.capacity = Capacity(self.leases, max_in_flight, per_minute, 60.0, clock=clock, rng=random.Random(1))
        self.provider = fakes.Client()
        self.once = Idempotency(clock)
        self.settings = DispatchSettings(bucket="media", jobs_table="jobs", control_table="control",
                                         idempotency_table="idem", state_machine_arn="sm", wake_queue_url="wake",
                                         capacity=CapacitySettings(max_in_flight, per_minute),
                                         submit_max_attempts=max_attempts)
        self.parked: list[str] = []

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(DispatchDeps(settings=self.settings, backlog=self.backlog, jobs=self.jobs,
                                       capacity=self.capacity, client=lambda: self.provider, bucket=self.bucket,
                                       workflow=self.workflow, wake_later=self.waker.wake_later, once=self.once,
                                       clock=self.clock, rng=random.Random(2)))

    def park(self, name: str, *, priority: Priority = Priority.NORMAL, uploaded_at: float | None = None,
             pin: bool = True) -> str:
        key = f"uploads/{name}.png"
        version = self.bucket.put(key, self.fakes.image_bytes())
        job_id = f"{len(self.parked):032x}"
        at = iso(uploaded_at if uploaded_at is not None else self.clock() + len(self.parked))
        job = Job(job_id=job_id, kind=JobKind.IMAGE, source=Source("media", key, version_id=version),
                  video_key=f"outputs/{name}.mp4", manifest_key=f"outputs/{name}.json", image_key=key,
                  image_pin=Pin(version_id=version) if pin else None, uploaded_at=at,
                  request={"mode": "Standard", "prompt": f"prompt {name}", "negative_prompt": None, "duration": 5,
                           "guidance_scale": 0.5, "end_image_key": None, "priority": priority.value})
        self.jobs.create(job_id)
        fields = {k: v for k, v in job.to_dict().items() if k != "job_id" and v is not None}
        assert self.backlog.park(job_id, priority, order_key(at, job_id), fields)
        self.parked.append(job_id)
        return job_id

    def status(self, job_id: str) -> JobStatus:
        return JobStatus(self.jobs.items[job_id]["status"])

    def started(self) -> list[str]:
        """Job ids whose workflow started (in the order they started), not counting failure reports."""
        return [name.removeprefix("job-") for name, state in self.workflow.executions.items()
                if state["poll"]["state"] == PollState.WAITING]

    def finish(self, job_id: str) -> None:
        """What the store step does at the end of a job: give back its slot."""
        self.capacity.release(job_id)
        self.workflow.finish(execution_name(job_id))
        self.jobs.update(job_id, status=JobStatus.SUCCEEDED.value)


@pytest.fixture
def world(fakes, clock) -> World:
    return World(fakes, clock)


def test_waiting_jobs_start_in_upload_order_up_to_the_cap(world):
    ids = [world.park(f"item-{i}") for i in range(5)]
    world.provider.submit_replies = [f"task-{i}" for i in range(5)]
    done = world.dispatcher().run(FOREVER)
    assert done.started == 2 and world.started() == ids[:2]
    assert [world.status(i) for i in ids] == [JobStatus.GENERATING] * 2 + [JobStatus.QUEUED] * 3
    assert world.backlog.size() == 3 and world.capacity.in_flight() == 2
    assert [r.prompt for r in world.provider.submitted] == ["prompt item-0", "prompt item-1"]
    assert world.bucket.presigned[0][2] is not None  # the validated version, not the latest


def test_a_finished_job_lets_the_next_one_start_at_once(world):
    ids = [world.park(f"item-{i}") for i in range(4)]
    world.provider.submit_replies = [f"task-{i}" for i in range(4)]
    world.dispatcher().run(FOREVER)
    world.finish(ids[0])
    assert world.dispatcher().run(FOREVER).started == 1
    assert world.started() == ids[:3]


def test_priority_goes_ahead_of_the_line_and_fifo_holds_within_it(world):
    normal = [world.park(f"n{i}") for i in range(3)]
    low = world.park("low", priority=Priority.LOW, uploaded_at=0)  # oldest of all, but low
    high = [world.park(f"h{i}", priority=Priority.HIGH) for i in range(2)]
    world.capacity = Capacity(world.leases, 10, 20, 60.0, clock=world.clock)
    world.provider.submit_replies = [f"task-{i}" for i in range(6)]
    world.dispatcher().run(FOREVER)
    assert world.started() == high + normal + [low]


def test_the_rate_window_stops_dispatching_and_wakes_it_when_a_token_frees(fakes, clock):
    world = World(fakes, clock, max_in_flight=10, per_minute=2)
    ids = [world.park(f"item-{i}") for i in range(4)]
    world.provider.submit_replies = [f"task-{i}" for i in range(4)]
    assert world.dispatcher().run(FOREVER).started == 2
    assert world.waker.later and 1 <= world.waker.later[-1] <= 60
    clock.advance(61)
    assert world.dispatcher().run(FOREVER).started == 2
    assert world.started() == ids


def test_a_provider_rate_limit_keeps_the_jobs_place_and_wakes_later(world):
    first = world.park("first")
    world.park("second")
    world.provider.submit_replies = [ProviderRateLimited("RATE_LIMIT_EXCEEDED", "slow down", 429), "task-1", "task-2"]
    done = world.dispatcher().run(FOREVER)
    assert done.started == 0 and world.waker.later
    assert world.status(first) == JobStatus.QUEUED and world.capacity.in_flight() == 0
    assert world.backlog.head(1)[0].job_id == first  # still first in line
    world.dispatcher().run(FOREVER)
    assert world.started()[0] == first


def test_provider_errors_are_retried_then_the_job_fails_with_provider_unavailable(world):
    job = world.park("flaky")
    world.provider.submit_replies = [ProviderUnavailable("CREATE_TASK_FAILED", "boom", 500)] * 3
    for _ in range(3):
        world.dispatcher().run(FOREVER)
        world.clock.advance(1000)  # past the backoff
    assert world.status(job) == JobStatus.FAILING
    (state,) = world.workflow.executions.values()
    assert state["error"]["code"] == ErrorCode.PROVIDER_UNAVAILABLE
    assert world.capacity.in_flight() == 0 and world.backlog.size() == 0
    assert len(world.provider.submitted) == 3


def test_a_refused_job_fails_with_the_providers_reason_and_frees_its_slot(world):
    job = world.park("bad")
    world.provider.submit_replies = [ProviderRejected("ILLEGAL_PROMPT", "no", 400)]
    assert world.dispatcher().run(FOREVER).failed == 1
    assert world.workflow.executions[execution_name(job)]["error"]["code"] == "ILLEGAL_PROMPT"
    assert world.capacity.in_flight() == 0 and world.backlog.size() == 0


def test_a_lost_reply_is_never_resubmitted_and_keeps_its_slot_until_its_failure_report_ends(world):
    job = world.park("lost")
    world.provider.submit_replies = [SubmitReplyLost("SUBMIT_OUTCOME_UNKNOWN", "read timeout")]
    world.dispatcher().run(FOREVER)
    assert world.workflow.executions[execution_name(job)]["error"]["code"] == ErrorCode.SUBMIT_OUTCOME_UNKNOWN
    assert world.capacity.in_flight() == 1  # the task may be running at the provider
    world.dispatcher().run(FOREVER)
    assert len(world.provider.submitted) == 1


def test_a_replaced_object_without_versions_fails_before_any_payment(world):
    job = world.park("changed", pin=False)
    record = world.jobs.items[job]
    record["image_pin"] = {"etag": "an-etag-that-is-gone"}
    world.provider.submit_replies = ["never"]
    world.dispatcher().run(FOREVER)
    assert world.workflow.executions[execution_name(job)]["error"]["code"] == ErrorCode.OBJECT_CHANGED
    assert world.provider.submitted == [] and world.capacity.in_flight() == 0


class CrashOnce:
    """Wraps a collaborator's method: the first call dies as a killed Lambda would (no clean-up)."""

    def __init__(self, target: object, method: str) -> None:
        self.original = getattr(target, method)
        self.crashed = False
        setattr(target, method, self)

    def __call__(self, *args, **kwargs):
        if not self.crashed:
            self.crashed = True
            raise LambdaCrash("killed")
        return self.original(*args, **kwargs)


@pytest.mark.parametrize("where", ["after taking capacity", "after the provider replied",
                                   "after starting the workflow"])
def test_a_dispatcher_dying_anywhere_loses_nothing_pays_once_and_keeps_the_cap(world, where):
    job = world.park("crash")
    other = world.park("other")
    world.provider.submit_replies = ["task-1", "task-2"]
    if where == "after taking capacity":
        CrashOnce(world.bucket, "presign_get")
    elif where == "after the provider replied":
        CrashOnce(world.workflow, "start")
    else:
        CrashOnce(world.jobs, "transition")
    with pytest.raises(LambdaCrash):
        world.dispatcher().run(FOREVER)
    assert world.status(job) == JobStatus.SUBMITTING  # claimed by the dead dispatcher, still in the backlog
    assert world.capacity.in_flight() <= 2
    # while its claim lasts, another dispatcher leaves the job alone and starts the next one
    world.dispatcher().run(lambda: 0.0 + 900)
    world.clock.advance(1000)  # the claim (900 s + 30) and the idempotency window run out; leases last 1200 s
    world.dispatcher().run(FOREVER, report=True)  # the schedule's wake: looks at claims of dead dispatchers
    assert sorted(world.started()) == sorted([job, other])
    assert len(world.provider.submitted) == 2  # paid once each
    assert world.backlog.size() == 0 and world.capacity.in_flight() == 2
    assert world.status(job) == JobStatus.GENERATING


def test_a_job_whose_workflow_ended_before_its_dispatcher_recovered_leaks_no_capacity(world):
    job = world.park("done-early")
    world.provider.submit_replies = ["task-1"]
    CrashOnce(world.jobs, "transition")
    with pytest.raises(LambdaCrash):
        world.dispatcher().run(FOREVER)
    world.finish(job)  # the workflow ran to its end meanwhile: the store step gave the slot back
    world.clock.advance(2000)
    world.dispatcher().run(FOREVER)
    assert world.capacity.in_flight() == 0
    assert world.backlog.size() == 0 and world.status(job) == JobStatus.SUCCEEDED


def test_duplicate_wakes_start_nothing_twice(world):
    world.park("only")
    world.provider.submit_replies = ["task-1"]
    for _ in range(5):
        world.dispatcher().run(FOREVER)
    assert len(world.provider.submitted) == 1 and len(world.started()) == 1


def test_concurrent_dispatchers_never_pass_the_cap_or_submit_a_job_twice(fakes, clock):
    world = World(fakes, clock, max_in_flight=3)
    ids = [world.park(f"item-{i}") for i in range(8)]
    inner = world.dispatcher()
    replies = iter(f"task-{i}" for i in range(100))

    def submit(request):  # while one dispatcher talks to the provider, another one runs in full
        world.provider.submitted.append(request)
        if len(world.provider.submitted) == 1:
            inner.run(FOREVER)
        return next(replies)

    world.provider.submit = submit
    world.dispatcher().run(FOREVER)
    assert world.capacity.in_flight() == 3
    assert sorted(world.started()) == sorted(ids[:3])
    prompts = [r.prompt for r in world.provider.submitted]
    assert len(prompts) == len(set(prompts)) == 3


def test_the_scheduled_wake_reports_the_backlog_size_and_the_oldest_wait(world):
    world.park("a", uploaded_at=world.clock() - 120)
    world.park("b")
    world.capacity = Capacity(world.leases, 1, 20, 60.0, clock=world.clock)
    world.provider.submit_replies = ["task-1"]
    done = world.dispatcher().run(FOREVER, report=True)
    assert done.backlog == 1 and done.oldest_seconds is not None and 0 <= done.oldest_seconds < 120


def test_a_dispatcher_near_its_timeout_takes_no_new_job(world):
    world.park("late")
    left = iter([120.0] + [5.0] * 100)  # a 120 s invocation with 5 s left when the job comes up
    done = world.dispatcher().run(lambda: next(left))
    assert done.started == 0 and world.backlog.size() == 1


def _requests_per_started_job(fakes, clock, waiting: int) -> float:
    world = World(fakes, clock, max_in_flight=2)
    for i in range(waiting):
        world.park(f"item-{i}")
    world.provider.submit_replies = [f"task-{i}" for i in range(10)]
    before = world.meter.total()
    started = 0
    for _ in range(5):
        started += world.dispatcher().run(FOREVER).started
        for job in world.started():
            world.finish(job)
    assert started == 10
    return (world.meter.total() - before) / started


def test_requests_per_started_job_do_not_grow_with_the_backlog(fakes, clock):
    short, long = (_requests_per_started_job(fakes, clock, waiting) for waiting in (10, 1000))
    assert short == long and short < 20, (short, long)


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_a_job_another_dispatcher_is_starting_keeps_its_place_in_line(fakes, clock, slots):
    """Dispatcher A has claimed the first job and not yet taken a slot for it; B, woken at the same moment,
    sees the free slots. One of them is A's: B starts only the jobs the other slots have room for, never
    one that would take the first job's slot and pass it."""
    world = World(fakes, clock, max_in_flight=slots)
    ids = [world.park(f"item-{i}") for i in range(5)]
    world.provider.submit_replies = [f"task-{i}" for i in range(5)]
    assert world.backlog.claim(ids[0], until=clock() + 100, now=clock()) is not None  # A's claim
    done = world.dispatcher().run(FOREVER)
    assert world.started() == ids[1:slots] and done.started == slots - 1
    assert done.stopped  # and B's round ends: no spinning on a job that is not its own
    clock.advance(101)  # A died with its claim: once the claim runs out, the job takes the slot left for it
    world.dispatcher().run(FOREVER)
    assert world.started() == ids[1:slots] + [ids[0]]
