"""Errors that are not a job's outcome: capacity and transient faults (i2v.errors).

A job's own failures (codes, stages, the error document) are contracts: tests/unit/contracts/test_errors.py.
"""

from __future__ import annotations

from i2v.contracts.errors import JobError
from i2v.errors import AtCapacity, SubmissionInProgress, VideoTransferError


def test_at_capacity_says_when_to_retry():
    exc = AtCapacity("all in-flight slots are taken", retry_after=42.4)
    assert exc.retry_after == 42.4
    assert exc.reason == "all in-flight slots are taken"
    assert str(exc) == "all in-flight slots are taken; retry after 42s"
    assert exc.rate_limited is False


def test_at_capacity_tells_a_full_rate_window_from_full_slots():
    exc = AtCapacity("the submission rate limit is reached", retry_after=7.0, rate_limited=True)
    assert exc.rate_limited is True
    assert str(exc) == "the submission rate limit is reached; retry after 7s"


def test_these_are_not_job_outcomes():
    # a caller retries them; they never become a job's failure notification by themselves
    for exc in (AtCapacity("full", 1.0), VideoTransferError("reset"), SubmissionInProgress("busy")):
        assert not isinstance(exc, JobError)


def test_video_transfer_error_keeps_its_name_for_the_workflows_retry():
    # the ASL retries the store task on this error name, and CAUGHT_ERRORS maps it
    assert VideoTransferError.__name__ == "VideoTransferError"
    assert str(VideoTransferError("reset after 1 MB")) == "reset after 1 MB"
