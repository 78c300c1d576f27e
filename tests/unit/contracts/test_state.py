"""The document that travels through the workflow (i2v.contracts.state)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from i2v.contracts.errors import ErrorDetail
from i2v.contracts.job import Job, JobKind, Pin, Source
from i2v.contracts.state import Poll, Task, WorkflowState
from i2v.contracts.status import PollState, Stage

JOB = Job(
    job_id="0123456789abcdef0123456789abcdef",
    kind=JobKind.IMAGE,
    source=Source("media", "uploads/cat.png", "v1", "e1"),
    video_key="outputs/cat.mp4",
    manifest_key="outputs/cat.json",
    image_key="uploads/cat.png",
    image_pin=Pin(version_id="v1"),
    request={"mode": "Professional", "prompt": "p", "priority": "normal"},
    uploaded_at="2026-01-01T00:00:00.000Z",
    timings={"uploaded_at": "2026-01-01T00:00:00.000Z"},
)
TASK = Task(task_id="task-1", submitted_at="2026-01-01T00:00:05.000Z")
ERROR = ErrorDetail(code="IMAGE_TOO_SMALL", message="200x200", stage=Stage.VALIDATE)


def through_json(state: WorkflowState) -> dict:
    return json.loads(json.dumps(state.to_dict()))  # Step Functions input and output are JSON


def test_the_state_of_a_started_job():
    state = WorkflowState.started(JOB, TASK, deadline_at=1234.5, first_wait=54)
    data = through_json(state)
    assert data == {
        "job": JOB.to_dict(),
        "task": {"task_id": "task-1", "submitted_at": "2026-01-01T00:00:05.000Z"},
        "deadline_at": 1234.5,
        "poll": {"state": "WAITING", "wait_seconds": 54, "polls": 0, "not_found": 0, "errors": 0,
                 "provider_status": None, "progress_percent": None, "video_url": None, "video_ttl": None,
                 "completed_at": None},
        "error": None,
    }
    assert "notification" not in data  # only the store step adds it


def test_the_state_of_a_job_rejected_before_polling():
    state = WorkflowState.rejected(JOB, ERROR)
    data = through_json(state)
    assert data["task"] is None and data["deadline_at"] is None
    assert data["poll"]["state"] == "FAILED"  # the ASL's first choice sends it to the failure report
    assert data["error"] == {"code": "IMAGE_TOO_SMALL", "message": "200x200", "stage": "validate",
                             "retryable": False}


@pytest.mark.parametrize("state", [
    WorkflowState.started(JOB, TASK, deadline_at=1234.5, first_wait=54),
    WorkflowState.rejected(JOB, ERROR),
])
def test_the_state_survives_the_round_trip(state):
    again = WorkflowState.from_dict(through_json(state))
    assert again == state
    assert again.job == JOB and isinstance(again.poll.state, PollState)


def test_a_polled_state_survives_the_round_trip():
    state = WorkflowState.started(JOB, TASK, deadline_at=99.0, first_wait=5)
    state.poll = Poll(state=PollState.SUCCEEDED, wait_seconds=3, polls=4, not_found=1, errors=2,
                      provider_status="TASK_STATUS_SUCCEED", progress_percent=100.0, video_url="https://cdn/v.mp4",
                      video_ttl=3600, completed_at="2026-01-01T00:02:00.000Z")
    state.notification = {"status": "SUCCEEDED", "manifest_key": "outputs/cat.json"}
    data = through_json(state)
    assert data["notification"] == {"status": "SUCCEEDED", "manifest_key": "outputs/cat.json"}
    assert WorkflowState.from_dict(data) == state


def test_fail_ends_polling_with_the_error():
    state = WorkflowState.started(JOB, TASK, deadline_at=None, first_wait=5)
    error = ErrorDetail(code="TIMED_OUT", message="late", stage=Stage.POLL, retryable=True)
    assert state.fail(error) is state
    assert state.poll.state is PollState.FAILED and state.error == error
    assert through_json(state)["error"] == error.to_dict()


def test_the_mode_comes_from_the_request():
    assert WorkflowState(job=JOB).mode == "Professional"
    assert WorkflowState(job=dataclasses.replace(JOB, request=None)).mode is None


def test_step_functions_catch_output_becomes_an_error_detail():
    data = through_json(WorkflowState.started(JOB, TASK, deadline_at=None, first_wait=5))
    cause = json.dumps({"errorType": "VideoTransferError", "errorMessage": "reset after 3 MB"})
    data["error"] = {"Error": "VideoTransferError", "Cause": cause}  # what the ASL's Catch writes to $.error
    state = WorkflowState.from_dict(data, Stage.STORE)
    assert state.error == ErrorDetail(code="VIDEO_DOWNLOAD_FAILED", message="VideoTransferError: reset after 3 MB",
                                      stage=Stage.STORE, retryable=True)


def test_an_unknown_step_functions_error_takes_the_stage_hint():
    data = through_json(WorkflowState.started(JOB, TASK, deadline_at=None, first_wait=5))
    data["error"] = {"Error": "KeyError", "Cause": "'poll'"}
    assert WorkflowState.from_dict(data).error.stage is Stage.POLL  # the default hint
    assert WorkflowState.from_dict(data, Stage.STORE).error.stage is Stage.STORE


@pytest.mark.parametrize("error", [None, {}])
def test_no_error(error):
    data = through_json(WorkflowState.started(JOB, TASK, deadline_at=None, first_wait=5)) | {"error": error}
    assert WorkflowState.from_dict(data).error is None


def test_a_missing_poll_reads_back_as_a_fresh_one():
    data = {"job": JOB.to_dict(), "task": None}
    state = WorkflowState.from_dict(data)
    assert state.poll == Poll()
    assert (state.task, state.deadline_at, state.error, state.notification) == (None, None, None, None)
