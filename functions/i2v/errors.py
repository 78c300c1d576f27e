"""Domain errors. Each carries the notification's error fields: code, stage, retryable.

The handlers map these to replies once; logic raises them and never formats replies itself.
"""

from __future__ import annotations


class JobError(Exception):
    """A job cannot go on. ``code`` is UPPER_SNAKE and lands in the notification."""

    code = "JOB_FAILED"
    stage = "validate"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, stage: str | None = None,
                 retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if stage is not None:
            self.stage = stage
        if retryable is not None:
            self.retryable = retryable

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "stage": self.stage, "retryable": self.retryable}


class InvalidImage(JobError):
    code = "INVALID_IMAGE"


class InvalidParameters(JobError):
    code = "INVALID_PARAMETERS"


class InvalidJobFile(JobError):
    code = "INVALID_JOB_FILE"


class MissingImage(JobError):
    code = "IMAGE_NOT_FOUND"


class SubmitOutcomeUnknown(JobError):
    """The submit request was sent but its reply was lost: the task may exist and be billed."""

    code = "SUBMIT_OUTCOME_UNKNOWN"
    stage = "submit"


class AtCapacity(Exception):
    """No in-flight slot or rate token free now; the message goes back to the queue with a delay."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(f"{reason}; retry after {retry_after:.0f}s")
        self.reason = reason
        self.retry_after = retry_after


class VideoTransferError(Exception):
    """A transient failure while copying the video (timeout, reset); the workflow retries the task."""
