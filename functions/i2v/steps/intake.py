"""The intake step: one S3 event record in; a valid job parked in the backlog, or its failure on its way.

A job is built and validated once, when its event arrives: a bad one fails at once (never behind
the backlog, never paid for), a good one waits in the backlog without any AWS request until the
dispatcher has room for it. Any exception while building a job ends that job with a failure
notification; only infrastructure faults (throttling, timeouts) go back to the queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from i2v import constants as c
from i2v.backlog import Backlog, order_key
from i2v.clock import Clock, iso, system_clock
from i2v.contracts.errors import ErrorCode, ErrorDetail, JobError
from i2v.contracts.job import Job, Source
from i2v.contracts.status import JobStatus, Stage
from i2v.jobs.build import ObjectStore, identify, prepare
from i2v.observability import bind_job, logger, metrics
from i2v.settings import IntakeSettings
from i2v.steps.reject import WorkflowStarter, reject


class Outcome(StrEnum):
    SKIPPED = "skipped"  # not a job (another suffix, a `_` name, outside the uploads prefix...)
    PARKED = "parked"  # valid: waits in the backlog
    FAILED = "failed"  # invalid: its failure notification is on its way
    DUPLICATE = "duplicate"  # a second delivery of an event already taken


@dataclass(frozen=True)
class Upload:
    """One S3 event record, as the handler read it (key already decoded)."""

    event_name: str
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None
    event_time: str | None = None
    redrive: int = 0  # > 0: an operator's deliberate retry of a finished job

    @property
    def source(self) -> Source:
        return Source(bucket=self.bucket, key=self.key, version_id=self.version_id, etag=self.etag,
                      sequencer=self.sequencer)


class JobRecords(Protocol):
    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def create(self, job_id: str, **fields: Any) -> bool: ...

    def update(self, job_id: str, **fields: Any) -> None: ...

    def dead_letter(self, job_id: str, **fields: Any) -> bool: ...


@dataclass
class IntakeDeps:
    settings: IntakeSettings
    bucket: ObjectStore
    jobs: JobRecords
    backlog: Backlog
    workflow: WorkflowStarter
    is_transient: Callable[[BaseException], bool] = lambda exc: False
    clock: Clock = system_clock


# A job already past these statuses is not built again by a duplicate event.
_REBUILD = frozenset({JobStatus.RECEIVED, JobStatus.DEAD_LETTER})


def take(upload: Upload, deps: IntakeDeps) -> Outcome:
    s = deps.settings
    if upload.event_name and not upload.event_name.startswith("ObjectCreated"):
        logger.info("skipping event that is not an upload", extra={"event_name": upload.event_name})
        return Outcome.SKIPPED
    found = identify(upload.source, s.uploads_prefix, s.outputs_prefix)
    if not isinstance(found, Job):
        logger.info("skipping object that is not a job", extra={"key": upload.key[:300], "why": found.reason})
        metrics.add_metric(name=c.METRIC_SKIPPED, unit="Count", value=1)
        return Outcome.SKIPPED
    job = found
    bind_job(job.job_id)
    job.uploaded_at = upload.event_time or iso(deps.clock())
    job.timings["uploaded_at"] = job.uploaded_at
    existing = deps.jobs.get(job.job_id)
    if existing is not None and _duplicate(existing, upload.redrive):
        metrics.add_metric(name=c.METRIC_DUPLICATES, unit="Count", value=1)
        return Outcome.DUPLICATE
    if existing is not None and existing.get("status") == JobStatus.DEAD_LETTER:
        deps.jobs.update(job.job_id, status=JobStatus.RECEIVED.value)  # redriven from the dead-letter queue
    if existing is None and not deps.jobs.create(job.job_id, **_record(job, upload.redrive, deps.clock)):
        logger.info("another delivery of this event is taking the job")
        metrics.add_metric(name=c.METRIC_DUPLICATES, unit="Count", value=1)
        return Outcome.DUPLICATE
    try:
        prepared = prepare(job, deps.bucket, s.uploads_prefix, s.defaults)
    except JobError as exc:
        reject(job, exc.detail, upload.redrive, workflow=deps.workflow, jobs=deps.jobs, clock=deps.clock)
        return Outcome.FAILED
    except Exception as exc:
        if deps.is_transient(exc):
            raise  # the queue delivers the event again
        logger.exception("unexpected error while building the job; it fails with INTERNAL_ERROR",
                         extra={"key": upload.key[:300]})
        detail = ErrorDetail(code=ErrorCode.INTERNAL_ERROR, stage=Stage.VALIDATE, retryable=True,
                             message=f"building the job from {upload.key[:300]!r} failed unexpectedly "
                                     f"({type(exc).__name__}: {str(exc)[:300]}); an operator can retry it "
                                     "with `i2v jobs retry` after a fix")
        reject(job, detail, upload.redrive, workflow=deps.workflow, jobs=deps.jobs, clock=deps.clock)
        return Outcome.FAILED
    priority = prepared.params.priority
    fields = {k: v for k, v in prepared.job.to_dict().items() if k != "job_id"}
    fields.update(updated_at=iso(deps.clock()), redrive=upload.redrive, error=None)
    if not deps.backlog.park(job.job_id, priority, order_key(job.uploaded_at, job.job_id), _no_none(fields)):
        metrics.add_metric(name=c.METRIC_DUPLICATES, unit="Count", value=1)
        return Outcome.DUPLICATE
    logger.info("job parked in the backlog", extra={"priority": priority.value})
    metrics.add_metric(name=c.METRIC_QUEUED, unit="Count", value=1)
    return Outcome.PARKED


def _duplicate(existing: dict[str, Any], redrive: int) -> bool:
    if int(existing.get("redrive") or 0) != redrive:
        logger.info("stale event from before an operator's retry", extra={"redrive": redrive})
        return True
    status = JobStatus(existing.get("status") or JobStatus.RECEIVED)
    if status in _REBUILD:
        return False
    logger.info("duplicate event for a job already taken", extra={"status": status.value})
    return True


def _record(job: Job, redrive: int, clock: Clock) -> dict[str, Any]:
    return {"source": job.source.to_dict(), "kind": job.kind.value, "video_key": job.video_key,
            "manifest_key": job.manifest_key, "uploaded_at": job.uploaded_at, "updated_at": iso(clock()),
            "redrive": redrive, "timings": dict(job.timings)}


def _no_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


__all__ = ["IntakeDeps", "Outcome", "Upload", "take"]
