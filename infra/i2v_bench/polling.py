"""Polling: detection lag, polls, state transitions and cost per job, adaptive against fixed timers.

Each simulated job is driven through the real status step (`i2v.steps.check_status.check_status` on an
`i2v.contracts.state.WorkflowState`, which calls `policy.next_wait(...)` and `scaled(...)` exactly as the
status Lambda does) with a fake provider client and a fake clock, so everything runs in simulated seconds.
The first wait is the one the dispatcher puts in the state it starts the workflow with
(`WorkflowState.started(..., first_wait=scaled(policy.first_wait(mode), 1))`).

Job model (seeded; every strategy sees the very same jobs and the very same hint draws):
- mode: 70 % Standard, 30 % Professional (the stack default is Standard; Professional is the paid upgrade)
- queue time uniform 2..15 s (QUEUED, no hints), then generation uniform in the published windows:
  Standard 60..180 s, Professional 300..420 s
- hints as the service gives them: 10 % of jobs never carry eta/progress_percent; on the others 70 % of
  PROCESSING replies carry both. progress_percent is the true progress (integer, at most 99); eta is the
  true remaining time times a per-job factor: 1 +- up to 30 % for most jobs, and for 6 % of jobs a badly
  wrong one (half of them 0.2..0.5x: "almost done" when it is not; half 2..4x: far too pessimistic).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

from i2v.clock import iso
from i2v.contracts.job import Job as PipelineJob
from i2v.contracts.job import JobKind, Source
from i2v.contracts.state import Task, WorkflowState
from i2v.contracts.status import PollState
from i2v.polling import DEFAULT_POLICY, PollingPolicy, scaled
from i2v.provider.models import TaskResult, parse_task_result
from i2v.steps.check_status import StatusDeps, check_status
from i2v_bench import asl, costs
from i2v_bench.stats import mean, percentile

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


class FixedInterval:
    """The usual design: wait N seconds, poll, repeat (same ASL, same status step, constant waits)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def first_wait(self, mode: str) -> float:
        return self.seconds

    def next_wait(self, mode: str, status: str, elapsed: float, eta: float | None = None,
                  progress: float | None = None) -> float:
        return self.seconds


def strategies() -> list[tuple[str, object, str]]:
    rows: list[tuple[str, object, str]] = [
        ("adaptive", DEFAULT_POLICY, "production DEFAULT_POLICY (functions/i2v/polling.py)")]
    rows += [(f"fixed-{n}s", FixedInterval(float(n)), f"Wait {n} s between polls") for n in (10, 30, 180)]
    return rows


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


def _pipeline_job(job: Job) -> PipelineJob:
    key = f"uploads/bench/item-{job.index:06d}.png"
    return PipelineJob(job_id=f"job-{job.index}", kind=JobKind.IMAGE, source=Source("bench", key, version_id="v1"),
                       video_key=f"outputs/bench/item-{job.index:06d}.mp4",
                       manifest_key=f"outputs/bench/item-{job.index:06d}.json", image_key=key,
                       request={"mode": job.mode})


def run_job(job: Job, policy: Any, seed: int) -> tuple[float, int]:
    """(detection lag in s, polls) for one job, through the real status step."""
    clock = SimClock()
    deps = StatusDeps(client=FakeProvider(job, clock, seed), jobs=None, time_scale=1.0, policy=policy, clock=clock)
    state = WorkflowState.started(_pipeline_job(job), Task(task_id=f"task-{job.index}", submitted_at=iso(EPOCH)),
                                  deadline_at=EPOCH + DEADLINES[job.mode],
                                  first_wait=scaled(policy.first_wait(job.mode), 1.0))
    while True:
        clock.t += state.poll.wait_seconds  # the Wait state
        state = check_status(state, deps)  # the status Lambda
        if state.poll.state != PollState.WAITING:
            if state.poll.state != PollState.SUCCEEDED:
                raise RuntimeError(f"simulated job {job.index} ended {state.poll.state}: {state.error}")
            return clock.t - job.done_at, state.poll.polls


def measure(policy: Any, jobs: list[Job], seed: int) -> dict[str, Any]:
    lags, polls, transitions = [], [], []
    by_mode: dict[str, list] = {"Standard": [], "Professional": []}
    by_hint: dict[str, list] = {"ok": [], "none": [], "low": [], "high": []}
    for job in jobs:
        lag, n = run_job(job, policy, seed)
        lags.append(lag)
        polls.append(n)
        transitions.append(asl.transitions(n))
        by_mode[job.mode].append((lag, n))
        by_hint[job.eta_kind].append(lag)
    mean_polls = mean(polls)
    cost = costs.job_cost(mean_polls, mean(transitions))
    return {
        "lag_p50_s": round(percentile(lags, 50), 2),
        "lag_p95_s": round(percentile(lags, 95), 2),
        "polls_per_job": round(mean_polls, 3),
        "transitions_per_job": round(mean(transitions), 3),
        "usd_per_1000": round(cost.total * 1000, 4),
        "lag_p99_s": round(percentile(lags, 99), 2),
        "lag_mean_s": round(mean(lags), 2),
        "by_mode": {mode: {"jobs": len(rows), "lag_p50_s": round(percentile([r[0] for r in rows], 50), 2),
                           "lag_p95_s": round(percentile([r[0] for r in rows], 95), 2),
                           "polls_per_job": round(mean([r[1] for r in rows]), 3)}
                    for mode, rows in by_mode.items() if rows},
        "lag_p95_by_hints": {kind: round(percentile(v, 95), 2) for kind, v in by_hint.items() if v},
        "cost_breakdown_usd_per_1000": cost.per_1000(),
        "_lags": lags,
    }


def run(quick: bool = False, seed: int = SEED, jobs: int | None = None) -> dict[str, Any]:
    count = jobs or (600 if quick else JOBS)
    population = make_jobs(count, seed)
    rows = []
    for name, policy, note in strategies():
        row = {"strategy": name, **measure(policy, population, seed), "note": note}
        if isinstance(policy, PollingPolicy):
            row["policy"] = dataclasses.asdict(policy)
        rows.append(row)
    modes = {m: sum(1 for j in population if j.mode == m) for m in GENERATION_SECONDS}
    return {"rows": rows, "meta": {
        "jobs_per_strategy": count, "seed": seed, "mix": "70/30 Standard/Professional", "jobs_by_mode": modes,
        "hint_model": {"queue_seconds": QUEUE_SECONDS, "generation_seconds": GENERATION_SECONDS,
                       "p_never_hinted": P_NEVER_HINTED, "p_hint_on_poll": P_HINT_ON_POLL, "eta_error": ETA_ERROR,
                       "p_badly_wrong_eta": P_BADLY_WRONG_ETA, "badly_wrong_factors": [BADLY_LOW, BADLY_HIGH]},
        "asl_cycle": asl.cycle(), "cost_assumptions": costs.assumptions()}}
