"""The `i2v.notification/v1` document and its SNS message attributes (the public contract)."""

from __future__ import annotations

from typing import Any

from i2v import constants as c
from i2v.clock import iso, parse_iso

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round(parse_iso(end) - parse_iso(start), 3)


def build_timings(times: dict[str, Any], notified_at: float) -> dict[str, Any]:
    """ISO-8601 UTC instants of the job's milestones plus the durations between them."""
    out: dict[str, Any] = {k: times.get(k) for k in ("uploaded_at", "submitted_at", "completed_at")}
    out["notified_at"] = iso(notified_at)
    out["queue_seconds"] = _seconds_between(out["uploaded_at"], out["submitted_at"])
    out["generation_seconds"] = _seconds_between(out["submitted_at"], out["completed_at"])
    out["total_seconds"] = _seconds_between(out["uploaded_at"], out["notified_at"])
    return out


def build_notification(*, job: dict[str, Any], status: str, task_id: str | None, provider_status: str | None,
                       output: dict[str, Any] | None, error: dict[str, Any] | None,
                       notified_at: float, reused_from: str | None = None) -> dict[str, Any]:
    if status not in (SUCCEEDED, FAILED):
        raise ValueError(f"status must be {SUCCEEDED} or {FAILED}, got {status!r}")
    if (status == SUCCEEDED) != (output is not None) or (status == FAILED) != (error is not None):
        raise ValueError("a SUCCEEDED notification has an output and no error; a FAILED one the reverse")
    request = job.get("request") or {}
    return {
        "schema": c.NOTIFICATION_SCHEMA,
        "status": status,
        "job_id": job["job_id"],
        "source": job["source"],
        "request": {
            "mode": request.get("mode"),
            "prompt": request.get("prompt"),
            "negative_prompt": request.get("negative_prompt"),
            "duration": request.get("duration"),
            "guidance_scale": request.get("guidance_scale"),
            "end_image_key": request.get("end_image_key"),
            "image_key": job.get("image_key"),
            "priority": request.get("priority"),
            "reuse": request.get("reuse"),
        },
        "provider": {"task_id": task_id, "status": provider_status},
        "output": output,
        "error": error,
        "timings": build_timings(job.get("timings") or {}, notified_at),
        "cost": {"estimated_usd": round(float(job.get("price_usd") or 0.0), 4)},
        **({"batch": job["batch"]} if job.get("batch") else {}),
        **({"reused_from": reused_from} if reused_from else {}),
    }


def message_attributes(notification: dict[str, Any]) -> dict[str, Any]:
    """SNS message attributes that subscribers can filter on."""
    mode = (notification.get("request") or {}).get("mode") or "UNKNOWN"
    error = notification.get("error") or {}
    return {
        "schema": {"DataType": "String", "StringValue": str(notification.get("schema") or c.NOTIFICATION_SCHEMA)},
        "status": {"DataType": "String", "StringValue": notification["status"]},
        "mode": {"DataType": "String", "StringValue": str(mode)},
        "error_code": {"DataType": "String", "StringValue": error.get("code") or "NONE"},
    }
