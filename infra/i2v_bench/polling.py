"""Polling: detection lag, polls, state transitions and cost per job, adaptive against fixed timers.

Each simulated job is driven through the real status step (`i2v.steps.check_status.check_status` on an
`i2v.contracts.state.WorkflowState`, which calls `policy.next_wait(...)` and `scaled(...)` exactly as the
status Lambda does) with a fake provider client and a fake clock, so everything runs in simulated seconds.
The first wait is the one the dispatcher puts in the state it starts the workflow with
(`WorkflowState.started(..., first_wait=scaled(policy.first_wait(mode), 1))`).

The job model (seeded; every strategy sees the very same jobs and the very same hint draws) and the
driver of one job through the status step are in ``i2v_bench.jobmodel``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from i2v.polling import DEFAULT_POLICY, PollingPolicy
from i2v_bench import asl, backlog, costs
from i2v_bench.jobmodel import (
    BADLY_HIGH,
    BADLY_LOW,
    ETA_ERROR,
    GENERATION_SECONDS,
    JOBS,
    P_BADLY_WRONG_ETA,
    P_HINT_ON_POLL,
    P_NEVER_HINTED,
    QUEUE_SECONDS,
    SEED,
    Job,
    make_jobs,
    run_job,
)
from i2v_bench.stats import mean, percentile


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
    cost = costs.job_cost(mean_polls, mean(transitions), front=backlog.front_per_video())
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
