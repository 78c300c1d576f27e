"""The store step, the end of every job: copy the video (on success), write the manifest, publish
exactly one notification, give back the in-flight slot (and wake the dispatcher), record the outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from i2v import constants as c
from i2v.clock import Clock, iso, system_clock
from i2v.contracts.errors import ErrorCode, ErrorDetail, JobError
from i2v.contracts.state import WorkflowState
from i2v.contracts.status import JobStatus, PollState, Stage
from i2v.notification import FAILED, SUCCEEDED, build_notification
from i2v.observability import count_by, logger, metrics
from i2v.video_transfer import Readable


class Outputs(Protocol):
    bucket: str

    def upload_stream(self, key: str, stream: Readable, content_type: str = ...) -> None: ...

    def put_json(self, key: str, document: dict[str, Any]) -> None: ...

    def presign_get(self, key: str, expires_in: int, version_id: str | None = None) -> str: ...


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
    wake_dispatcher: Callable[[], None] = lambda: None
    download_url_ttl: int = c.DEFAULT_DOWNLOAD_URL_TTL
    clock: Clock = system_clock


def _copy(state: WorkflowState, deps: StoreDeps) -> dict[str, Any]:
    key = state.job.video_key
    url = state.poll.video_url or ""
    size = deps.copy_video(url, lambda stream: deps.bucket.upload_stream(key, stream))
    now = deps.clock()
    return {"bucket": deps.bucket.bucket, "key": key, "size_bytes": size,
            "url": deps.bucket.presign_get(key, deps.download_url_ttl),
            "url_expires_at": iso(now + deps.download_url_ttl)}


def store(state: WorkflowState, deps: StoreDeps) -> WorkflowState:
    """Finish the job. VideoTransferError propagates so the workflow retries the copy."""
    job = state.job
    output, error = None, state.error
    if error is None and state.poll.state == PollState.SUCCEEDED:
        deps.jobs.update(job.job_id, status=JobStatus.STORING.value, updated_at=iso(deps.clock()))
        try:
            output = _copy(state, deps)
        except JobError as exc:
            error = exc.detail
    elif error is None:
        error = ErrorDetail(code=ErrorCode.INTERNAL_ERROR, stage=Stage.STORE, retryable=True,
                            message="the workflow reached the store step with no video and no error")
    status = FAILED if error else SUCCEEDED
    notification = build_notification(
        job=job.to_dict(), status=status, task_id=state.task.task_id if state.task else None,
        provider_status=state.poll.provider_status, output=output, error=error.to_dict() if error else None,
        notified_at=deps.clock())
    deps.bucket.put_json(job.manifest_key, notification)
    if deps.release_slot(job.job_id):
        deps.wake_dispatcher()  # a slot is free: the next waiting job can start now
    _record(job.job_id, notification, deps)
    _publish_once(notification, deps)
    _emit_metrics(notification, state)
    state.error = error
    state.notification = {"status": status, "manifest_key": job.manifest_key}
    return state


def _record(job_id: str, notification: dict[str, Any], deps: StoreDeps) -> None:
    output = notification["output"] or {}
    deps.jobs.update(job_id, status=notification["status"], updated_at=notification["timings"]["notified_at"],
                     output_key=output.get("key"), size_bytes=output.get("size_bytes"),
                     error=notification["error"], timings=notification["timings"],
                     provider_status=notification["provider"]["status"])


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
