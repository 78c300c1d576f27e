"""The document that travels through the workflow (i2v.workflow_state)."""

from __future__ import annotations

import json

import pytest

from i2v.models import Job, Source
from i2v.workflow_state import POLL_FAILED, POLL_WAITING, initial_state, normalise_error

JOB = Job(
    job_id="0123456789abcdef0123456789abcdef",
    kind="image",
    source=Source("media", "uploads/cat.png", "v1", "e1"),
    video_key="outputs/cat.mp4",
    manifest_key="outputs/cat.json",
    image_key="uploads/cat.png",
    request={"mode": "Standard", "prompt": "p"},
    uploaded_at="2026-01-01T00:00:00.000Z",
    timings={"uploaded_at": "2026-01-01T00:00:00.000Z"},
)


def test_initial_state_of_a_submitted_job():
    state = initial_state(
        JOB, task_id="task-1", submitted_at="2026-01-01T00:00:05.000Z", deadline_at=1234.5, first_wait=54
    )
    assert state["job"] == JOB.to_dict()
    assert state["task"] == {"task_id": "task-1", "submitted_at": "2026-01-01T00:00:05.000Z"}
    assert state["deadline_at"] == 1234.5
    assert state["poll"] == {
        "state": POLL_WAITING,
        "wait_seconds": 54,
        "polls": 0,
        "not_found": 0,
        "errors": 0,
        "provider_status": None,
        "progress_percent": None,
        "video_url": None,
        "video_ttl": None,
        "completed_at": None,
    }
    assert state["error"] is None
    assert json.loads(json.dumps(state)) == state  # Step Functions input is JSON


def test_initial_state_of_a_job_that_failed_before_polling():
    error = {"code": "IMAGE_TOO_SMALL", "message": "m", "stage": "validate", "retryable": False}
    state = initial_state(JOB, task_id=None, submitted_at=None, deadline_at=None, first_wait=1, error=error)
    assert state["task"] is None
    assert state["poll"]["state"] == POLL_FAILED
    assert state["error"] == error


def test_the_job_survives_the_round_trip():
    state = initial_state(JOB, task_id="t", submitted_at=None, deadline_at=None, first_wait=1)
    assert Job.from_dict(json.loads(json.dumps(state))["job"]) == JOB


# --- normalise_error ----------------------------------------------------------------------------


@pytest.mark.parametrize("error", [None, {}])
def test_no_error(error):
    assert normalise_error(error, "poll") is None


def test_our_own_errors_pass_through():
    error = {"code": "TIMED_OUT", "message": "late", "stage": "poll", "retryable": True}
    assert normalise_error(error, "store") == error


def test_our_errors_get_defaults_for_missing_fields():
    assert normalise_error({"code": "X_Y"}, "store") == {
        "code": "X_Y",
        "message": "X_Y",
        "stage": "store",
        "retryable": False,
    }
    assert normalise_error({"code": "X", "retryable": 1}, "poll")["retryable"] is True


def test_step_functions_error_with_a_lambda_json_cause():
    cause = json.dumps(
        {
            "errorMessage": "the video download broke after 10 bytes",
            "errorType": "VideoTransferError",
            "stackTrace": ["..."],
        }
    )
    assert normalise_error({"Error": "VideoTransferError", "Cause": cause}, "poll") == {
        "code": "VIDEO_DOWNLOAD_FAILED",
        "message": "VideoTransferError: the video download broke after 10 bytes",
        "stage": "store",
        "retryable": True,
    }


def test_the_cause_error_type_wins_over_the_outer_name():
    cause = json.dumps({"errorMessage": "down", "errorType": "ProviderUnavailable"})
    error = normalise_error({"Error": "States.TaskFailed", "Cause": cause}, "store")
    assert (error["code"], error["stage"]) == ("PROVIDER_UNAVAILABLE", "poll")


@pytest.mark.parametrize(
    "name, code, stage",
    [("States.Timeout", "TIMED_OUT", "poll"), ("States.TaskFailed", "INTERNAL_ERROR", "poll")],
)
def test_step_functions_errors_with_a_plain_cause(name, code, stage):
    error = normalise_error({"Error": name, "Cause": "Task timed out after 900 seconds"}, "store")
    assert error == {
        "code": code,
        "message": f"{name}: Task timed out after 900 seconds",
        "stage": stage,
        "retryable": True,
    }


@pytest.mark.parametrize("cause", ['["a", "b"]', '"just text"', "42", None])
def test_causes_that_are_not_objects_are_kept_as_text(cause):
    error = normalise_error({"Error": "KeyError", "Cause": cause}, "store")
    assert error["code"] == "INTERNAL_ERROR"
    assert error["stage"] == "store"
    assert error["message"].startswith("KeyError: ")


def test_long_causes_are_cut():
    error = normalise_error({"Error": "Boom", "Cause": "x" * 5000}, "poll")
    assert len(error["message"]) == 1000
