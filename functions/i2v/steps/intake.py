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
from i2v.clock import Clock, iso, parse_iso, system_clock
from i2v.contracts.errors import ErrorCode, ErrorDetail, JobError, MissingImage
from i2v.contracts.job import Job, JobKind, Source
from i2v.contracts.status import JobStatus, Priority, Stage
from i2v.jobs.build import ObjectStore, identify, prepare
from i2v.jobs.keys import KeyDecision
from i2v.observability import bind_job, logger, metrics
from i2v.settings import IntakeSettings
from i2v.steps.reject import WorkflowStarter, reject


class Outcome(StrEnum):
    SKIPPED = "skipped"  # not a job (another suffix, a `_` name, outside the uploads prefix...)
    PARKED = "parked"  # valid: waits in the backlog
    HELD = "held"  # waits for a job file that may name it, or for the image its job file names
    CLAIMED = "claimed"  # an image a job file names: that job's input, not a job of its own
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


class Claims(Protocol):
    """Which images job files name (see i2v.aws.claims)."""

    def claim(self, key: str, job: dict[str, Any], redrive: int, row: dict[str, Any] | None) -> None: ...

    def claimant(self, key: str) -> dict[str, Any] | None: ...

    def add_pending(self, key: str, job_id: str) -> None: ...

    def pending(self, key: str) -> set[str]: ...


@dataclass
class IntakeDeps:
    settings: IntakeSettings
    bucket: ObjectStore
    jobs: JobRecords
    backlog: Backlog
    workflow: WorkflowStarter
    claims: Claims
    # a batch file (.csv, .jsonl): read, ledger opened, rows fanned out (i2v.steps.batch)
    on_batch: Callable[[Job, int], Outcome] | None = None
    is_transient: Callable[[BaseException], bool] = lambda exc: False
    clock: Clock = system_clock


# A job already past these statuses is not built again by a duplicate event (a HELD job file is built
# again when the image it waits for arrives, not by a duplicate of its own event).
_REBUILD = frozenset({JobStatus.RECEIVED, JobStatus.DEAD_LETTER})


def take(upload: Upload, deps: IntakeDeps) -> Outcome:
    s = deps.settings
    if upload.event_name and not upload.event_name.startswith("ObjectCreated"):
        logger.info("skipping event that is not an upload", extra={"event_name": upload.event_name})
        return Outcome.SKIPPED
    found = identify(upload.source, s.uploads_prefix, s.outputs_prefix)
    if isinstance(found, Job) and found.kind == JobKind.IMAGE and not s.images_are_jobs:
        found = KeyDecision(None, f"an image, and the stack's trigger is {c.TRIGGER_JOB_FILES!r}: only job and "
                                  "batch files start jobs")
    if not isinstance(found, Job):
        logger.info("skipping object that is not a job", extra={"key": _shown_key(upload.key), "why": found.reason})
        metrics.add_metric(name=c.METRIC_SKIPPED, unit="Count", value=1)
        return Outcome.SKIPPED
    job = found
    bind_job(job.job_id)
    job.uploaded_at = upload.event_time or iso(deps.clock())
    job.timings["uploaded_at"] = job.uploaded_at
    if job.kind == JobKind.IMAGE:
        claimant = deps.claims.claimant(upload.key)
        if claimant is not None:
            return _named_by_job_file(upload, claimant, deps)
    if job.kind == JobKind.BATCH:
        if deps.on_batch is None:
            raise RuntimeError("batch files need IntakeDeps.on_batch")
        return deps.on_batch(job, upload.redrive)
    return take_job(job, upload.redrive, deps)


def take_job(job: Job, redrive: int, deps: IntakeDeps, *, rebuilding: bool = False,
             row: dict[str, Any] | None = None) -> Outcome:
    """Build, validate and park one job; ``rebuilding``: a HELD job file whose image has just arrived;
    ``row``: the fields of a batch row (the job's own parameter layer)."""
    s = deps.settings
    if not rebuilding:
        existing = deps.jobs.get(job.job_id)
        if existing is not None and _duplicate(existing, redrive):
            metrics.add_metric(name=c.METRIC_DUPLICATES, unit="Count", value=1)
            return Outcome.DUPLICATE
        if existing is not None and existing.get("status") == JobStatus.DEAD_LETTER:
            deps.jobs.update(job.job_id, status=JobStatus.RECEIVED.value)  # redriven from the dead-letter queue
        if existing is None and not deps.jobs.create(job.job_id, **_record(job, redrive, deps.clock)):
            logger.info("another delivery of this event is taking the job")
            metrics.add_metric(name=c.METRIC_DUPLICATES, unit="Count", value=1)
            return Outcome.DUPLICATE
    grace = s.image_grace_seconds
    try:
        prepared = prepare(job, deps.bucket, s.uploads_prefix, s.defaults, row=row)
    except JobError as exc:
        if grace > 0 and (job.kind == JobKind.IMAGE or isinstance(exc, MissingImage)):
            return _hold(job, exc.detail, redrive, deps, row)
        reject(job, exc.detail, redrive, workflow=deps.workflow, jobs=deps.jobs, clock=deps.clock)
        return Outcome.FAILED
    except Exception as exc:
        if deps.is_transient(exc):
            raise  # the queue delivers the event again
        logger.exception("unexpected error while building the job; it fails with INTERNAL_ERROR",
                         extra={"key": _shown_key(job.source.key)})
        detail = ErrorDetail(code=ErrorCode.INTERNAL_ERROR, stage=Stage.VALIDATE, retryable=True,
                             message=f"building the job from {job.source.key[:300]!r} failed unexpectedly "
                                     f"({type(exc).__name__}: {str(exc)[:300]}); an operator can retry it "
                                     "with `i2v jobs retry` after a fix")
        reject(job, detail, redrive, workflow=deps.workflow, jobs=deps.jobs, clock=deps.clock)
        return Outcome.FAILED
    if job.kind in (JobKind.JOB_FILE, JobKind.BATCH_ROW):
        claim_inputs(job, redrive, deps, row)
    priority = prepared.params.priority
    fields = {k: v for k, v in prepared.job.to_dict().items() if k != "job_id"}
    fields.update(updated_at=iso(deps.clock()), parked_at=iso(deps.clock()), redrive=redrive)
    waits = job.kind == JobKind.IMAGE and grace > 0
    if waits:  # an image waits out the grace period in which a job file may still name it
        fields["not_before"] = parse_iso(job.uploaded_at or iso(deps.clock())) + grace
    order = order_key(job.uploaded_at or iso(deps.clock()), job.job_id, job.batch)
    if not deps.backlog.park(job.job_id, priority, order, _no_none(fields)):
        if deps.backlog.release_held(job.job_id, _no_none(fields)):  # a job file whose image has arrived
            logger.info("job file's inputs are all here: the job waits in its place in the backlog")
            return Outcome.PARKED
        metrics.add_metric(name=c.METRIC_DUPLICATES, unit="Count", value=1)
        return Outcome.DUPLICATE
    if waits:
        deps.claims.add_pending(job.source.key, job.job_id)
    logger.info("job parked in the backlog", extra={"priority": priority.value})
    metrics.add_metric(name=c.METRIC_QUEUED, unit="Count", value=1)
    return Outcome.HELD if waits else Outcome.PARKED


def _hold(job: Job, error: ErrorDetail, redrive: int, deps: IntakeDeps, row: dict[str, Any] | None) -> Outcome:
    """Wait out the grace period before this failure counts: an image may yet be named by a job file
    (then it is no job at all), a job file's image may yet arrive (then it is built again)."""
    grace = deps.settings.image_grace_seconds
    fields = {k: v for k, v in job.to_dict().items() if k != "job_id"}
    fields.update(updated_at=iso(deps.clock()), redrive=redrive, held_error=error.to_dict(),
                  not_before=parse_iso(job.uploaded_at or iso(deps.clock())) + grace)
    order = order_key(job.uploaded_at or iso(deps.clock()), job.job_id, job.batch)
    parked = deps.backlog.park(job.job_id, Priority.NORMAL, order, _no_none(fields), status=JobStatus.HELD)
    if not parked:
        deps.jobs.update(job.job_id, held_error=error.to_dict(), updated_at=iso(deps.clock()))
    if job.kind == JobKind.IMAGE:
        deps.claims.add_pending(job.source.key, job.job_id)
    else:
        claim_inputs(job, redrive, deps, row)
    logger.info("job held for its grace period", extra={"error_code": error.code})
    return Outcome.HELD


def claim_inputs(job: Job, redrive: int, deps: IntakeDeps, row: dict[str, Any] | None = None) -> None:
    """A job file (or a batch row) names its images: they are its inputs, never jobs of their own."""
    keys = [k for k in (job.image_key, (job.request or {}).get("end_image_key")) if isinstance(k, str) and k]
    for key in keys:
        deps.claims.claim(key, job.to_dict(), redrive, row)
        for image_job in deps.claims.pending(key):
            if deps.backlog.withdraw(image_job):
                logger.info("an image the job file names was waiting as a job of its own: withdrawn",
                            extra={"image_job_id": image_job, "key": _shown_key(key)})


def _named_by_job_file(upload: Upload, claimant: dict[str, Any], deps: IntakeDeps) -> Outcome:
    """An image a job file (or a batch row) names is that job's input; if that job waits for it, build it
    again now."""
    job = Job.from_dict(claimant["job"])
    logger.info("image named by a job file: not a job of its own",
                extra={"key": _shown_key(upload.key), "job_file_job_id": job.job_id})
    record = deps.jobs.get(job.job_id)
    if record is not None and record.get("status") == JobStatus.HELD:
        bind_job(job.job_id)
        job.uploaded_at = record.get("uploaded_at")
        job.timings["uploaded_at"] = job.uploaded_at
        take_job(job, int(claimant.get("redrive") or 0), deps, rebuilding=True, row=claimant.get("row"))
    return Outcome.CLAIMED



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
            "redrive": redrive, "timings": dict(job.timings), "batch": job.batch.to_dict() if job.batch else None}


def _shown_key(key: str) -> str:
    """A key for a log line: bounded, and valid UTF-8 whatever the event held (a lone surrogate)."""
    return key[:300].encode("utf-8", "replace").decode("utf-8")


def _no_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


__all__ = ["IntakeDeps", "Outcome", "Upload", "take"]
