"""The store step, the end of every job: copy the video (on success), write the manifest,
publish exactly one notification, release the in-flight slot, record the outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from i2v import constants as c
from i2v.clock import Clock, iso, system_clock
from i2v.errors import JobError
from i2v.notification import FAILED, SUCCEEDED, build_notification
from i2v.observability import count_by, logger, metrics
from i2v.workflow_state import POLL_SUCCEEDED, normalise_error


@dataclass
class StoreDeps:
    bucket: object  # S3Bucket-like: upload_stream, put_json, presign_get, bucket
    notifier: object  # Notifier-like: publish(notification)
    jobs: object  # JobsTable-like: update, claim_notification, unclaim_notification
    release_slot: Callable[[str], bool]
    copy_video: Callable[[str, Callable], int]  # (url, upload) -> bytes copied
    download_url_ttl: int = c.DEFAULT_DOWNLOAD_URL_TTL
    clock: Clock = system_clock


def _copy(state: dict, deps: StoreDeps) -> dict:
    job = state["job"]
    key = job["video_key"]
    size = deps.copy_video(state["poll"]["video_url"], lambda stream: deps.bucket.upload_stream(key, stream))
    now = deps.clock()
    return {"bucket": deps.bucket.bucket, "key": key, "size_bytes": size,
            "url": deps.bucket.presign_get(key, deps.download_url_ttl),
            "url_expires_at": iso(now + deps.download_url_ttl)}


def store(state: dict, deps: StoreDeps) -> dict:
    """Finish the job. VideoTransferError propagates so the workflow retries the copy."""
    job = state["job"]
    output, error = None, normalise_error(state.get("error"), "poll")
    if error is None and state["poll"].get("state") == POLL_SUCCEEDED:
        deps.jobs.update(job["job_id"], status="STORING", updated_at=iso(deps.clock()))
        try:
            output = _copy(state, deps)
        except JobError as exc:
            error = exc.to_dict()
    elif error is None:
        error = {"code": "INTERNAL_ERROR", "message": "the workflow reached the store step with no video and no "
                 "error", "stage": "store", "retryable": True}
    status = FAILED if error else SUCCEEDED
    task = state.get("task") or {}
    now = deps.clock()
    notification = build_notification(
        job=job, status=status, task_id=task.get("task_id"),
        provider_status=state["poll"].get("provider_status"), output=output, error=error, notified_at=now)
    deps.bucket.put_json(job["manifest_key"], notification)
    deps.release_slot(job["job_id"])
    _record(job["job_id"], notification, deps)
    _publish_once(notification, deps)
    _emit_metrics(notification, state)
    state["error"] = error
    state["notification"] = {"status": status, "manifest_key": job["manifest_key"]}
    return state


def _record(job_id: str, notification: dict, deps: StoreDeps) -> None:
    output = notification["output"] or {}
    deps.jobs.update(job_id, status=notification["status"], updated_at=notification["timings"]["notified_at"],
                     output_key=output.get("key"), size_bytes=output.get("size_bytes"),
                     error=notification["error"], timings=notification["timings"],
                     provider_status=notification["provider"]["status"])


def _publish_once(notification: dict, deps: StoreDeps) -> None:
    job_id = notification["job_id"]
    if not deps.jobs.claim_notification(job_id, notification["timings"]["notified_at"]):
        logger.warning("notification already published for this job; not sending another")
        return
    try:
        deps.notifier.publish(notification)
    except Exception:
        deps.jobs.unclaim_notification(job_id)
        raise


def _emit_metrics(notification: dict, state: dict) -> None:
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
    metrics.add_metric(name=c.METRIC_POLLS, unit="Count", value=int(state["poll"].get("polls") or 0))


__all__ = ["StoreDeps", "store"]
