"""Errors that are not a job's outcome: transient faults a caller retries, and capacity.

A job's failures (codes, stages, the error document) are contracts: see ``i2v.contracts.errors``.
"""

from __future__ import annotations


class AtCapacity(Exception):
    """No in-flight slot or rate token is free now; ``retry_after`` says when one may be."""

    def __init__(self, reason: str, retry_after: float, *, rate_limited: bool = False) -> None:
        super().__init__(f"{reason}; retry after {retry_after:.0f}s")
        self.reason = reason
        self.retry_after = retry_after
        self.rate_limited = rate_limited  # True: slots are free but the rate window is used up


class VideoTransferError(Exception):
    """A transient failure while copying the video (timeout, reset); the workflow retries the task."""


class SubmissionInProgress(Exception):
    """Another attempt at this job's submission is under way (or died mid-call and its window is open)."""
