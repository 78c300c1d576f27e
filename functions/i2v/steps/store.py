"""The store step, the end of every job: copy the video (on success), write the manifest, publish
exactly one notification, give back the in-flight slot (and wake the dispatcher), record the outcome.

Output names: `uploads/x/cat.png` and `uploads/x/cat.jpg` (or two uploads of `cat.png`) share
`outputs/x/cat.mp4` and `outputs/x/cat.json`. The later UPLOAD wins the name, whatever the order the
jobs finish in: a job claims the name in the control table with its upload order
(``i2v.backlog.order_key``), a conditional write that fails when a newer upload holds it; a job
that finds a newer one there writes its video and manifest under a name of its own,
`outputs/x/cat.<first 8 characters of its job id>.mp4` / `.json`. A job that held the name when it
started writing but finds, once its video and manifest are written, that a newer upload claimed it
meanwhile, moves them to its own name (a copy of the version it wrote, then that version is deleted,
so the name's latest version is the newer upload's again). Where the bucket keeps versions, the
notification's URL names the version the job wrote: it serves the bytes it describes even after a
later upload replaces the name.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from i2v import constants as c
from i2v.backlog import order_key
from i2v.clock import Clock, iso, system_clock
from i2v.contents import DONE, Contents, Origin
from i2v.contracts.errors import ErrorCode, ErrorDetail, JobError
from i2v.contracts.job import Job
from i2v.contracts.state import WorkflowState
from i2v.contracts.status import JobStatus, PollState, Stage
from i2v.notification import FAILED, SUCCEEDED, build_notification
from i2v.observability import count_by, logger, metrics
from i2v.video_transfer import Readable


class Outputs(Protocol):
    bucket: str

    def upload_stream(self, key: str, stream: Readable, content_type: str = ...) -> str | None: ...

    def put_json(self, key: str, document: dict[str, Any]) -> str | None: ...

    def presign_get(self, key: str, expires_in: int, version_id: str | None = None) -> str: ...

    def copy_version(self, key: str, version_id: str, target: str) -> str | None: ...

    def delete_version(self, key: str, version_id: str) -> None: ...


class OutputNames(Protocol):
    """Who may write an output name (i2v.aws.outputs): the newest upload that claimed it."""

    def claim(self, name: str, order: str, job_id: str) -> bool: ...

    def confirm(self, name: str, order: str, version_id: str | None) -> bool: ...


class Publisher(Protocol):
    def publish(self, notification: dict[str, Any]) -> str: ...


class OutcomeRecords(Protocol):
    def update(self, job_id: str, **fields: Any) -> None: ...

    def claim_notification(self, job_id: str, at: str) -> bool: ...

    def unclaim_notification(self, job_id: str) -> None: ...


@dataclass
class StoreDeps:
    bucket: Outputs
    notifier: Publisher
    jobs: OutcomeRecords
    release_slot: Callable[[str], bool]
    copy_video: Callable[[str, Callable[[Readable], None]], int]  # (url, upload) -> bytes copied
    names: OutputNames
    wake_dispatcher: Callable[[], None] = lambda: None
    on_published: Callable[[dict[str, Any]], None] = lambda notification: None  # e.g. a batch's ledger
    contents: Contents | None = None  # pay once per content: a produced video is recorded for reuse
    download_url_ttl: int = c.DEFAULT_DOWNLOAD_URL_TTL
    job_retention_days: int = c.DEFAULT_JOB_RETENTION_DAYS
    clock: Clock = system_clock


@dataclass(frozen=True)
class Place:
    """Where a job's video and manifest go."""

    video: str
    manifest: str

    @classmethod
    def shared(cls, job: Job) -> Place:
        return cls(job.video_key, job.manifest_key)

    @classmethod
    def own(cls, job: Job) -> Place:
        """The job's own name, for an older upload whose shared name a newer upload holds."""
        return cls(_tagged(job.video_key, job.job_id[:8]), _tagged(job.manifest_key, job.job_id[:8]))


def _tagged(key: str, tag: str) -> str:
    stem, suffix = posixpath.splitext(key)
    return f"{stem}.{tag}{suffix}"


@dataclass
class _Written:
    """The video this job wrote: the notification's ``output`` and the version it made (None: unversioned)."""

    output: dict[str, Any]
    version: str | None


def _output(key: str, size: int, version: str | None, deps: StoreDeps) -> dict[str, Any]:
    now = deps.clock()
    return {"bucket": deps.bucket.bucket, "key": key, "size_bytes": size,
            "url": deps.bucket.presign_get(key, deps.download_url_ttl, version),
            "url_expires_at": iso(now + deps.download_url_ttl)}


def _copy(state: WorkflowState, deps: StoreDeps, key: str) -> _Written:
    if state.reuse is not None:  # the same content made this video before: a server-side copy, no download
        origin = Origin.from_dict(state.reuse)
        version = deps.bucket.copy_version(str(origin.key), str(origin.version_id), key)
        return _Written(_output(key, int(origin.size_bytes or 0), version, deps), version)
    url = state.poll.video_url or ""
    versions: list[str | None] = []
    size = deps.copy_video(url, lambda stream: versions.append(deps.bucket.upload_stream(key, stream)))
    version = versions[-1] if versions else None
    return _Written(_output(key, size, version, deps), version)


def _notification(state: WorkflowState, written: _Written | None, error: ErrorDetail | None,
                  notified_at: float) -> dict[str, Any]:
    return build_notification(
        job=state.job.to_dict(), status=FAILED if error else SUCCEEDED,
        task_id=state.task.task_id if state.task else None, provider_status=state.poll.provider_status,
        output=written.output if written and not error else None, error=error.to_dict() if error else None,
        notified_at=notified_at, reused_from=str(state.reuse["job_id"]) if state.reuse else None)


def store(state: WorkflowState, deps: StoreDeps) -> WorkflowState:
    """Finish the job. VideoTransferError propagates so the workflow retries the copy."""
    job = state.job
    order = order_key(job.uploaded_at or str(job.timings.get("uploaded_at") or ""), job.job_id, job.batch)
    holds_name = deps.names.claim(job.video_key, order, job.job_id)
    place = Place.shared(job) if holds_name else Place.own(job)
    if not holds_name:
        logger.info("a newer upload holds the output name: this job's outputs get a name of their own",
                    extra={"shared": job.video_key, "own": place.video})
    written, error = None, state.error
    if error is None and state.poll.state == PollState.SUCCEEDED:
        deps.jobs.update(job.job_id, status=JobStatus.STORING.value, updated_at=iso(deps.clock()))
        try:
            written = _copy(state, deps, place.video)
        except JobError as exc:
            error = exc.detail
    elif error is None:
        error = ErrorDetail(code=ErrorCode.INTERNAL_ERROR, stage=Stage.STORE, retryable=True,
                            message="the workflow reached the store step with no video and no error")
    notified_at = deps.clock()
    notification = _notification(state, written, error, notified_at)
    manifest_version = deps.bucket.put_json(place.manifest, notification)
    if holds_name and not deps.names.confirm(job.video_key, order, written.version if written else None):
        place, written, error = _move_to_own_name(state, deps, written, error, manifest_version)
        notification = _notification(state, written, error, notified_at)
        deps.bucket.put_json(place.manifest, notification)
    if deps.release_slot(job.job_id):
        deps.wake_dispatcher()  # a slot is free: the next waiting job can start now
    _record(job.job_id, notification, deps)
    _remember_content(state, written, error, deps)
    _publish_once(notification, deps)
    _emit_metrics(notification, state)
    state.error = error
    state.notification = {"status": notification["status"], "manifest_key": place.manifest}
    return state


def _move_to_own_name(state: WorkflowState, deps: StoreDeps, written: _Written | None, error: ErrorDetail | None,
                      manifest_version: str | None) -> tuple[Place, _Written | None, ErrorDetail | None]:
    """A newer upload claimed the shared name while this job wrote it: its outputs move to its own name.

    In a versioned bucket the version this job wrote is copied to its own name and then deleted from
    the shared one, so the shared name's latest version is the newer upload's (now, or once it lands).
    Without versions the video is fetched again into its own name (the shared name's bytes may already
    be the newer upload's).
    """
    job = state.job
    shared, own = Place.shared(job), Place.own(job)
    logger.info("a newer upload claimed the output name while this job wrote it: moving to a name of its own",
                extra={"shared": shared.video, "own": own.video})
    if written is not None and error is None:
        if written.version:
            ours = written.version
            version = deps.bucket.copy_version(shared.video, ours, own.video)
            written = _Written(_output(own.video, int(written.output["size_bytes"]), version, deps), version)
            deps.bucket.delete_version(shared.video, ours)
        else:
            try:
                written = _copy(state, deps, own.video)
            except JobError as exc:
                written, error = None, exc.detail
    if manifest_version:
        deps.bucket.delete_version(shared.manifest, manifest_version)
    return own, written, error


def _remember_content(state: WorkflowState, written: _Written | None, error: ErrorDetail | None,
                      deps: StoreDeps) -> None:
    """A job that made its content's video records it for the next job of the same content (or, having
    failed, lets the next one make it)."""
    job = state.job
    if deps.contents is None or job.content_key is None or state.reuse is not None:
        return
    if error is None and written is not None and written.version:
        deps.contents.done(Origin(content_key=job.content_key, job_id=job.job_id, state=DONE,
                                  bucket=deps.bucket.bucket, key=str(written.output["key"]), version_id=written.version,
                                  size_bytes=int(written.output["size_bytes"]), price_usd=job.price_usd))
    else:  # failed, or a bucket without versions (a video that may be overwritten is never reused)
        deps.contents.release(job.content_key, job.job_id)


def _record(job_id: str, notification: dict[str, Any], deps: StoreDeps) -> None:
    """The job's end on its record, which DynamoDB's TTL removes ``job_retention_days`` later."""
    output = notification["output"] or {}
    expires_at = int(deps.clock()) + deps.job_retention_days * 86400
    deps.jobs.update(job_id, status=notification["status"], updated_at=notification["timings"]["notified_at"],
                     output_key=output.get("key"), size_bytes=output.get("size_bytes"),
                     error=notification["error"], timings=notification["timings"],
                     provider_status=notification["provider"]["status"], **{c.JOBS_TTL_ATTRIBUTE: expires_at})


def _publish_once(notification: dict[str, Any], deps: StoreDeps) -> None:
    job_id = notification["job_id"]
    if not deps.jobs.claim_notification(job_id, notification["timings"]["notified_at"]):
        logger.warning("notification already published for this job; not sending another")
        return
    try:
        deps.notifier.publish(notification)
    except Exception:
        deps.jobs.unclaim_notification(job_id)
        raise
    deps.on_published(notification)  # once per job: what follows a job's end (a batch's ledger) counts it once


def _emit_metrics(notification: dict[str, Any], state: WorkflowState) -> None:
    timings = notification["timings"]
    if notification["status"] == SUCCEEDED:
        metrics.add_metric(name=c.METRIC_SUCCEEDED, unit="Count", value=1)
        metrics.add_metric(name=c.METRIC_BYTES_STORED, unit="Bytes", value=notification["output"]["size_bytes"])
    else:
        metrics.add_metric(name=c.METRIC_FAILED, unit="Count", value=1)
        count_by(c.METRIC_FAILED_BY_CODE, "error_code", notification["error"]["code"])
        logger.info("job failed", extra={"error_code": notification["error"]["code"],
                                         "stage": notification["error"]["stage"]})
    if timings.get("generation_seconds") is not None:
        metrics.add_metric(name=c.METRIC_GENERATION_SECONDS, unit="Seconds", value=timings["generation_seconds"])
    if timings.get("total_seconds") is not None:
        metrics.add_metric(name=c.METRIC_UPLOAD_TO_NOTIFICATION, unit="Seconds", value=timings["total_seconds"])
    metrics.add_metric(name=c.METRIC_POLLS, unit="Count", value=state.poll.polls)
