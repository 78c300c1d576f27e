"""What every simulated job costs after it started, whatever the front did: the AWS requests of the
workflow's status and store steps, measured on the in-memory adapters; and the switch that keeps
Powertools quiet while the real steps run millions of times.

It imports nothing else of the benchmarks but the job model (``costs`` and ``backlog`` build on it).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, Protocol

from i2v.clock import iso
from i2v.contracts.state import Task, WorkflowState
from i2v.polling import DEFAULT_POLICY, scaled
from i2v_bench import jobmodel
from i2v_local.memory import MemoryBucket, MemoryContents, MemoryJobs, Meter

VIDEO_PUT_REQUESTS = 4  # a 5-25 MB video: CreateMultipartUpload + 2 x UploadPart (8 MiB) + Complete
BUCKET = "media"


class LogCounter(Protocol):
    log_lines: int


@contextmanager
def quiet_observability(sim: LogCounter | None = None) -> Iterator[None]:
    """Powertools' logger and metrics counted (on ``sim``), not written (a run logs millions of lines)."""
    from i2v.observability import logger, metrics

    def line(*_args: Any, **_kwargs: Any) -> None:
        if sim is not None:
            sim.log_lines += 1

    def nothing(*_args: Any, **_kwargs: Any) -> None:
        return None

    patched = {"info": line, "warning": line, "error": line, "exception": line, "debug": nothing,
               "append_keys": nothing}
    for name, fn in patched.items():
        setattr(logger, name, fn)
    metrics.add_metric = nothing  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name in patched:
            delattr(logger, name)
        del metrics.add_metric


@cache
def workflow_requests() -> dict[str, dict[str, float]]:
    """The AWS requests of the workflow's steps, measured on the in-memory adapters: ``per_poll`` (the real
    status step polling one job to its end) and ``per_job`` (the real store step finishing it; the slot it
    gives back and the wake are counted by the simulation instead). Keyed ``meter|operation``."""
    from i2v.contents import PENDING
    from i2v.steps.check_status import StatusDeps, check_status
    from i2v.steps.store import StoreDeps, store
    from i2v_local.memory import MemoryNotifier, MemoryOutputNames

    meters = {name: Meter() for name in ("s3", "jobs", "control", "sns", "events")}
    jobs_table = MemoryJobs(meters["jobs"])
    model_job = jobmodel.make_jobs(1)[0]
    job = jobmodel.pipeline_job(model_job)
    job.content_key, job.uploaded_at, job.price_usd = "content-1", iso(jobmodel.EPOCH), 0.14
    job.request = {"mode": model_job.mode, "duration": 5, "prompt": "p"}
    sim_clock = jobmodel.SimClock()
    state = WorkflowState.started(job, Task("task-1", iso(jobmodel.EPOCH)), deadline_at=jobmodel.EPOCH + 1800,
                                  first_wait=scaled(DEFAULT_POLICY.first_wait(model_job.mode), 1.0))
    status = StatusDeps(client=jobmodel.FakeProvider(model_job, sim_clock, jobmodel.SEED), jobs=jobs_table,
                        clock=sim_clock)
    contents = MemoryContents(meters["control"])
    with quiet_observability():
        while True:
            sim_clock.t += state.poll.wait_seconds
            state = check_status(state, status)
            if state.poll.state != "WAITING":
                break
        polls = state.poll.polls
        per_poll = {f"jobs|{op}": n / polls for op, n in meters["jobs"].counts.items()}
        meters["jobs"].counts.clear()
        contents.items["content-1"] = contents._origin("content-1", job.job_id, PENDING, jobmodel.EPOCH + 3600)
        meters["control"].counts.clear()

        def copy(_url: str, upload: Callable[[Any], None]) -> int:
            upload(io.BytesIO(b"\0" * 1000))
            return 1000

        store(state, StoreDeps(bucket=MemoryBucket(BUCKET, meters["s3"]), notifier=MemoryNotifier(meters["sns"]),
                               jobs=jobs_table, release_slot=lambda _job_id: False, copy_video=copy,
                               names=MemoryOutputNames(meters["control"]), contents=contents,
                               clock=jobmodel.SimClock()))
    meters["events"].counts.update({op: n for op, n in meters["sns"].counts.items() if op.startswith("events.")})
    for op in [op for op in meters["sns"].counts if op.startswith("events.")]:
        del meters["sns"].counts[op]
    per_job = {f"{name}|{op}": float(n) for name, meter in meters.items() for op, n in meter.counts.items()}
    per_job["s3|s3.PutObject"] += VIDEO_PUT_REQUESTS - 1  # the fake stores the video in one request
    return {"per_poll": per_poll, "per_job": per_job}
