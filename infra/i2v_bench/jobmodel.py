"""The simulated provider jobs every simulated section shares, and the real status step driving one of them.

Job model (seeded; every strategy sees the very same jobs and the very same hint draws):
- mode: 70 % Standard, 30 % Professional (the stack default is Standard; Professional is the paid upgrade)
- queue time uniform 2..15 s (QUEUED, no hints), then generation uniform in the published windows:
  Standard 60..180 s, Professional 300..420 s
- hints as the service gives them: 10 % of jobs never carry eta/progress_percent; on the others 70 % of
  PROCESSING replies carry both. progress_percent is the true progress (integer, at most 99); eta is the
  true remaining time times a per-job factor: 1 +- up to 30 % for most jobs, and for 6 % of jobs a badly
  wrong one (half of them 0.2..0.5x: "almost done" when it is not; half 2..4x: far too pessimistic).

It imports nothing else of the benchmarks (the polling, cost and backlog modules all build on it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from i2v.clock import iso
from i2v.contracts.job import Job as PipelineJob
from i2v.contracts.job import JobKind, Source
from i2v.contracts.state import Task, WorkflowState
from i2v.contracts.status import PollState
from i2v.polling import scaled
from i2v.provider.models import TaskResult, parse_task_result
from i2v.steps.check_status import StatusDeps, check_status

SEED = 20261125
JOBS = 4000
PROFESSIONAL_SHARE = 0.30
QUEUE_SECONDS = (2.0, 15.0)
GENERATION_SECONDS = {"Standard": (60.0, 180.0), "Professional": (300.0, 420.0)}
P_NEVER_HINTED = 0.10
P_HINT_ON_POLL = 0.70
ETA_ERROR = 0.30
P_BADLY_WRONG_ETA = 0.06
BADLY_LOW, BADLY_HIGH = (0.2, 0.5), (2.0, 4.0)
DEADLINES = {"Standard": 900.0, "Professional": 1800.0}  # the stack's defaults (constants.py)
EPOCH = 1_800_000_000.0  # simulated submission instant (whole seconds keep ISO round trips exact)


@dataclass(frozen=True)
class Job:
    index: int
    mode: str
    queue_s: float
    generation_s: float
    hinted: bool
    eta_factor: float
    eta_kind: str  # "ok" | "low" | "high" | "none"

    @property
    def done_at(self) -> float:
        return self.queue_s + self.generation_s


def make_jobs(count: int, seed: int = SEED) -> list[Job]:
    rng = random.Random(seed)
    jobs = []
    for index in range(count):
        mode = "Professional" if rng.random() < PROFESSIONAL_SHARE else "Standard"
        queue_s = rng.uniform(*QUEUE_SECONDS)
        generation_s = rng.uniform(*GENERATION_SECONDS[mode])
        hinted = rng.random() >= P_NEVER_HINTED
        if rng.random() < P_BADLY_WRONG_ETA:
            low = rng.random() < 0.5
            factor, kind = (rng.uniform(*BADLY_LOW), "low") if low else (rng.uniform(*BADLY_HIGH), "high")
        else:
            factor, kind = 1.0 + rng.uniform(-ETA_ERROR, ETA_ERROR), "ok"
        jobs.append(Job(index, mode, queue_s, generation_s, hinted, factor, kind if hinted else "none"))
    return jobs


class FakeProvider:
    """Answers get_result for one job at the fake clock's time, shaped like the real reply."""

    def __init__(self, job: Job, clock: SimClock, seed: int) -> None:
        self.job, self.clock = job, clock
        self.rng = random.Random(seed * 1_000_003 + job.index)  # same draws for every strategy

    def get_result(self, task_id: str) -> TaskResult:
        job, t = self.job, self.clock.t
        show = self.rng.random() < P_HINT_ON_POLL  # drawn on every poll so strategies stay in step
        task: dict[str, Any] = {"task_id": task_id, "task_type": "KLING_V16_I2V_" + job.mode.upper(), "reason": ""}
        videos = []
        if t < job.queue_s:
            task["status"] = "TASK_STATUS_QUEUED"
        elif t < job.done_at:
            task["status"] = "TASK_STATUS_PROCESSING"
            if job.hinted and show:
                task["eta"] = max(0, round((job.done_at - t) * job.eta_factor))
                task["progress_percent"] = min(99, int((t - job.queue_s) / job.generation_s * 100))
        else:
            task["status"] = "TASK_STATUS_SUCCEED"
            videos = [{"video_url": f"https://cdn.example/{task_id}.mp4", "video_url_ttl": "3600",
                       "video_type": "mp4"}]
        return parse_task_result({"extra": {}, "task": task, "videos": videos}, task_id)


class SimClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return EPOCH + self.t


def pipeline_job(job: Job) -> PipelineJob:
    key = f"uploads/bench/item-{job.index:06d}.png"
    return PipelineJob(job_id=f"job-{job.index}", kind=JobKind.IMAGE, source=Source("bench", key, version_id="v1"),
                       video_key=f"outputs/bench/item-{job.index:06d}.mp4",
                       manifest_key=f"outputs/bench/item-{job.index:06d}.json", image_key=key,
                       request={"mode": job.mode})


def run_job(job: Job, policy: Any, seed: int) -> tuple[float, int]:
    """(detection lag in s, polls) for one job, through the real status step."""
    clock = SimClock()
    deps = StatusDeps(client=FakeProvider(job, clock, seed), jobs=None, time_scale=1.0, policy=policy, clock=clock)
    state = WorkflowState.started(pipeline_job(job), Task(task_id=f"task-{job.index}", submitted_at=iso(EPOCH)),
                                  deadline_at=EPOCH + DEADLINES[job.mode],
                                  first_wait=scaled(policy.first_wait(job.mode), 1.0))
    while True:
        clock.t += state.poll.wait_seconds  # the Wait state
        state = check_status(state, deps)  # the status Lambda
        if state.poll.state != PollState.WAITING:
            if state.poll.state != PollState.SUCCEEDED:
                raise RuntimeError(f"simulated job {job.index} ended {state.poll.state}: {state.error}")
            return clock.t - job.done_at, state.poll.polls
