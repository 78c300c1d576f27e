"""The one ASL definition, executed for real by the embedded Step Functions, through each ending."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from support import Pipeline, image_bytes

pytestmark = pytest.mark.e2e


def _finished(pipeline: Pipeline, timeout: float = 60.0) -> list[dict]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        executions = pipeline.executions()
        if executions and all(e["status"] != "RUNNING" for e in executions):
            return executions
        time.sleep(0.3)
    raise AssertionError("executions still running")


def test_success_path_polls_then_stores(notification_validator: Any) -> None:
    with Pipeline(speed=40) as p:
        p.put("uploads/ok.png", image_bytes(), {"prompt": "waves"})
        notes = p.wait_for(1)
        executions = _finished(p)
        states = p.states_visited(executions[0]["executionArn"])
    assert executions[0]["status"] == "SUCCEEDED"
    assert executions[0]["name"] == f"job-{notes[0]['notification']['job_id']}"
    assert states[:3] == ["WasJobAccepted", "WaitBeforePolling", "CheckTaskStatus"]
    assert states[-2:] == ["StoreVideo", "VideoDelivered"]
    assert "NotifyFailure" not in states
    note = notes[0]["notification"]
    notification_validator.validate(note)
    assert note["status"] == "SUCCEEDED" and note["output"]["size_bytes"] > 0


def test_provider_failure_goes_to_notify_failure(notification_validator: Any) -> None:
    with Pipeline(sim_knobs={"p_task_failed": 1.0}) as p:
        p.put("uploads/doomed.png", image_bytes())
        notes = p.wait_for(1)
        executions = _finished(p)
        states = p.states_visited(executions[0]["executionArn"])
    note = notes[0]["notification"]
    notification_validator.validate(note)
    assert note["status"] == "FAILED" and note["error"]["stage"] == "poll"
    assert note["provider"]["task_id"]
    assert "CheckTaskStatus" in states and states[-2:] == ["NotifyFailure", "FailureReported"]
    assert "StoreVideo" not in states


def test_deadline_fails_with_timed_out(notification_validator: Any) -> None:
    # Generation takes 5x longer than usual; the Standard deadline is cut to 20 provider seconds.
    with Pipeline(sim_knobs={"p_slow": 1.0}, cloud_knobs={"extra_env": {"I2V_DEADLINE_STANDARD_SECONDS": "20"}},
                  speed=10) as p:
        p.put("uploads/slow.png", image_bytes())
        notes = p.wait_for(1, timeout=60)
        executions = _finished(p)
        states = p.states_visited(executions[0]["executionArn"])
    note = notes[0]["notification"]
    notification_validator.validate(note)
    assert note["error"]["code"] == "TIMED_OUT" and note["error"]["stage"] == "poll"
    assert states[-2:] == ["NotifyFailure", "FailureReported"]


def test_rejected_job_skips_polling(notification_validator: Any) -> None:
    with Pipeline() as p:
        p.put("uploads/tiny.png", image_bytes(200, 200))
        notes = p.wait_for(1)
        executions = _finished(p)
        states = p.states_visited(executions[0]["executionArn"])
        submissions = p.sim.stats()["tasks_created"]
    assert states == ["WasJobAccepted", "NotifyFailure", "FailureReported"]
    assert notes[0]["notification"]["error"]["code"] == "IMAGE_TOO_SMALL"
    assert submissions == 0


def test_a_reused_video_goes_straight_to_the_store_step(notification_validator: Any) -> None:
    """The same content a second time: the workflow starts with its poll SUCCEEDED and no task, and
    WasJobAccepted sends it to StoreVideo, which copies the earlier video (no polling, no provider)."""
    with Pipeline(speed=60) as p:
        p.put("uploads/first.png", image_bytes(), {"prompt": "waves"})
        first = p.wait_for(1)[0]["notification"]
        p.put("uploads/again.png", image_bytes(), {"prompt": "waves"})
        again = p.wait_for(2)[1]["notification"]
        executions = {e["name"]: e for e in _finished(p)}
        states = p.states_visited(executions[f"job-{again['job_id']}"]["executionArn"])
        submissions = p.sim.stats()["tasks_created"]
    notification_validator.validate(again)
    assert again["reused_from"] == first["job_id"] and again["status"] == "SUCCEEDED"
    assert states == ["WasJobAccepted", "StoreVideo", "VideoDelivered"]
    assert submissions == 1


def test_asl_file_is_the_one_the_local_cloud_runs() -> None:
    import inspect

    from i2v_infra.workflow_definition import ASL_PATH
    from i2v_local import provision

    assert "read_definition()" in inspect.getsource(provision)  # the file, not a copy of it
    definition = json.loads(ASL_PATH.read_text())
    for name, state in definition["States"].items():
        if state["Type"] == "Task":
            assert state.get("Retry"), f"{name} has no Retry"
            assert state.get("Catch"), f"{name} has no Catch"
            assert state.get("TimeoutSeconds", 0) > 0, f"{name} has no TimeoutSeconds"
    assert definition["TimeoutSeconds"] > 0
