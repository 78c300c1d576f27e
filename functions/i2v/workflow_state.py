"""The document that travels through the workflow: job, task, deadline, poll state, error.

Built by the submit step, advanced by the status step, consumed by the store step. The ASL
reads only `$.error` (null or not), `$.poll.state` and `$.poll.wait_seconds`.
"""

from __future__ import annotations

import json

from i2v.models import Job

POLL_WAITING = "WAITING"
POLL_SUCCEEDED = "SUCCEEDED"
POLL_FAILED = "FAILED"


def initial_state(job: Job, *, task_id: str | None, submitted_at: str | None, deadline_at: float | None,
                  first_wait: int, error: dict | None = None) -> dict:
    return {
        "job": job.to_dict(),
        "task": {"task_id": task_id, "submitted_at": submitted_at} if task_id else None,
        "deadline_at": deadline_at,
        "poll": {"state": POLL_FAILED if error else POLL_WAITING, "wait_seconds": first_wait, "polls": 0,
                 "not_found": 0, "errors": 0, "provider_status": None, "progress_percent": None,
                 "video_url": None, "video_ttl": None, "completed_at": None},
        "error": error,
    }


# Lambda error types raised inside the workflow tasks -> notification error codes (caught by Catch).
CAUGHT_ERROR_CODES = {
    "VideoTransferError": ("VIDEO_DOWNLOAD_FAILED", "store", True),
    "States.Timeout": ("TIMED_OUT", "poll", True),
    "States.TaskFailed": ("INTERNAL_ERROR", "poll", True),
    "ProviderUnavailable": ("PROVIDER_UNAVAILABLE", "poll", True),
}


def normalise_error(error: dict | None, stage_hint: str) -> dict | None:
    """Errors arrive either as our {code, message, stage, retryable} or as Step Functions' {Error, Cause}."""
    if not error:
        return None
    if "code" in error:
        return {"code": error["code"], "message": error.get("message") or error["code"],
                "stage": error.get("stage") or stage_hint, "retryable": bool(error.get("retryable", False))}
    name = str(error.get("Error") or "INTERNAL_ERROR")
    message = str(error.get("Cause") or name)
    try:
        cause = json.loads(message)
        message = str(cause.get("errorMessage") or message)
        name = str(cause.get("errorType") or name)
    except (ValueError, AttributeError):
        pass
    code, stage, retryable = CAUGHT_ERROR_CODES.get(name, ("INTERNAL_ERROR", stage_hint, True))
    return {"code": code, "message": f"{name}: {message}"[:1000], "stage": stage, "retryable": retryable}
