"""The status step: one poll, then what next and how long to wait (i2v.steps.check_status)."""

from __future__ import annotations

import random

import pytest

from i2v.clock import iso
from i2v.models import Job, Source
from i2v.provider.errors import (
    ProviderAccountError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    TaskFailed,
    TaskNotFound,
)
from i2v.provider.models import TaskResult, Video
from i2v.steps.check_status import MAX_NOT_FOUND, MAX_TRANSIENT_ERRORS, StatusDeps, check_status
from i2v.workflow_state import POLL_FAILED, POLL_SUCCEEDED, POLL_WAITING, initial_state

DEADLINE = 900.0


def result(status: str, **kw) -> TaskResult:
    from i2v.provider.models import normalise_status

    return TaskResult(task_id="task-1", status=normalise_status(status), raw_status=status, **kw)


def done(url="https://cdn.example.com/v.mp4", ttl=3600) -> TaskResult:
    return result("TASK_STATUS_SUCCEED", progress_percent=100, videos=[Video(url, ttl, "mp4")])


@pytest.fixture
def state(clock):
    job = Job(
        job_id="0123456789abcdef0123456789abcdef",
        kind="image",
        source=Source("media", "uploads/cat.png"),
        video_key="outputs/cat.mp4",
        manifest_key="outputs/cat.json",
        image_key="uploads/cat.png",
        request={"mode": "Standard", "prompt": "p"},
        timings={"uploaded_at": iso(clock() - 5)},
    )
    return initial_state(
        job, task_id="task-1", submitted_at=iso(clock()), deadline_at=clock() + DEADLINE, first_wait=54
    )


@pytest.fixture
def deps(provider, clock, jobs_table):
    return StatusDeps(client=provider, jobs=jobs_table, clock=clock, rng=random.Random(7))


def poll(state, deps, reply, advance: float = 0.0):
    deps.clock.advance(advance)
    deps.client.result_replies.append(reply)
    return check_status(state, deps)


def test_success_carries_the_video_url_and_completion_time(state, deps, clock, provider):
    out = poll(state, deps, done(ttl=1800), advance=75)
    assert provider.polled == ["task-1"]
    assert out["poll"]["state"] == POLL_SUCCEEDED
    assert out["poll"]["video_url"] == "https://cdn.example.com/v.mp4"
    assert out["poll"]["video_ttl"] == 1800
    assert out["poll"]["completed_at"] == iso(clock())
    assert out["job"]["timings"]["completed_at"] == iso(clock())
    assert out["poll"]["provider_status"] == "TASK_STATUS_SUCCEED"
    assert out["error"] is None


def test_success_without_a_video_fails(state, deps):
    out = poll(state, deps, result("TASK_STATUS_SUCCEED"))
    assert out["poll"]["state"] == POLL_FAILED
    assert out["error"]["code"] == "NO_VIDEO"


def test_still_running_waits(state, deps):
    out = poll(state, deps, result("TASK_STATUS_PROCESSING", progress_percent=50), advance=60)
    assert out["poll"]["state"] == POLL_WAITING
    assert out["poll"]["wait_seconds"] == 51  # 60 s elapsed at 50 %: about 60 s left, trusted at 85 %
    assert out["poll"]["polls"] == 1
    assert out["poll"]["progress_percent"] == 50
    assert out["error"] is None


def test_an_unknown_status_keeps_polling(state, deps):
    out = poll(state, deps, result("TASK_STATUS_WARMING_UP"), advance=100)
    assert out["poll"]["state"] == POLL_WAITING
    assert out["poll"]["provider_status"] == "TASK_STATUS_WARMING_UP"


def test_progress_is_recorded_in_the_jobs_table(state, deps, jobs_table):
    poll(state, deps, result("TASK_STATUS_PROCESSING", progress_percent=42), advance=60)
    item = jobs_table.get(state["job"]["job_id"])
    assert item["polls"] == 1
    assert item["progress_percent"] == 42
    assert item["provider_status"] == "TASK_STATUS_PROCESSING"


@pytest.mark.parametrize(
    "reason, code",
    [
        ("ILLEGAL_IMAGE_CONTENT", "ILLEGAL_IMAGE_CONTENT"),
        ("the GPU caught fire", "TASK_FAILED"),
        (None, "TASK_FAILED"),
    ],
)
def test_provider_failure_with_its_reason(state, deps, reason, code):
    out = poll(state, deps, result("TASK_STATUS_FAILED", reason=reason))
    assert out["poll"]["state"] == POLL_FAILED
    assert out["error"]["code"] == code
    assert out["error"]["stage"] == "poll" and out["error"]["retryable"] is False
    assert (reason or "no reason given") in out["error"]["message"]


def test_task_failed_reply(state, deps):
    out = poll(state, deps, TaskFailed("TASK_FAILED", "render error", 500))
    assert out["error"]["code"] == "TASK_FAILED"
    assert "render error" in out["error"]["message"]


def test_task_not_found_is_retried_then_fails(state, deps):
    waits = []
    for _ in range(MAX_NOT_FOUND):
        out = poll(state, deps, TaskNotFound("TASK_NOT_FOUND", "no such task", 404))
        assert out["poll"]["state"] == POLL_WAITING
        waits.append(out["poll"]["wait_seconds"])
    assert waits == sorted(waits) and waits[0] >= 1
    out = poll(state, deps, TaskNotFound("TASK_NOT_FOUND", "no such task", 404))
    assert out["poll"]["state"] == POLL_FAILED
    assert out["error"]["code"] == "TASK_NOT_FOUND"
    assert MAX_NOT_FOUND == 3


def test_transient_errors_back_off_then_fail_as_provider_unavailable(state, deps):
    waits = []
    for _ in range(MAX_TRANSIENT_ERRORS):
        out = poll(state, deps, ProviderUnavailable("GET_RESULT_FAILED", "busy", 500))
        assert out["poll"]["state"] == POLL_WAITING
        waits.append(out["poll"]["wait_seconds"])
    assert all(1 <= w <= 60 for w in waits)
    assert waits[-1] > waits[0]  # backing off
    out = poll(state, deps, ProviderUnavailable("GET_RESULT_FAILED", "busy", 500))
    assert out["poll"]["state"] == POLL_FAILED
    assert out["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert out["error"]["retryable"] is True
    assert "GET_RESULT_FAILED" in out["error"]["message"]


def test_a_good_reply_resets_the_error_count(state, deps):
    for _ in range(MAX_TRANSIENT_ERRORS):
        poll(state, deps, ProviderRateLimited("RATE_LIMIT_EXCEEDED", "slow down", 429))
    poll(state, deps, result("TASK_STATUS_PROCESSING"))
    out = poll(state, deps, ProviderUnavailable("HTTP_502", "", 502))
    assert out["poll"]["state"] == POLL_WAITING
    assert out["poll"]["errors"] == 1


def test_account_error_fails_at_once(state, deps):
    out = poll(state, deps, ProviderAccountError("INVALID_API_KEY", "key revoked", 403))
    assert out["poll"]["state"] == POLL_FAILED
    assert out["error"]["code"] == "INVALID_API_KEY"
    assert out["error"]["retryable"] is False


def test_a_rejected_poll_fails_with_the_providers_reason(state, deps):
    out = poll(state, deps, ProviderRejected("INVALID_REQUEST_BODY", "bad task id", 400))
    assert out["error"]["code"] == "INVALID_REQUEST_BODY"


def test_timed_out_at_the_deadline(state, deps):
    poll(state, deps, result("TASK_STATUS_PROCESSING"), advance=60)
    out = poll(state, deps, result("TASK_STATUS_PROCESSING"), advance=DEADLINE - 60)
    assert out["poll"]["state"] == POLL_FAILED
    assert out["error"]["code"] == "TIMED_OUT"
    assert out["error"]["retryable"] is True
    assert "TASK_STATUS_PROCESSING" in out["error"]["message"]


def test_a_video_ready_at_the_deadline_still_wins(state, deps):
    out = poll(state, deps, done(), advance=DEADLINE + 5)
    assert out["poll"]["state"] == POLL_SUCCEEDED


def test_the_wait_never_runs_past_the_deadline(state, deps):
    out = poll(state, deps, result("TASK_STATUS_PROCESSING"), advance=DEADLINE - 4)
    wait = out["poll"]["wait_seconds"]
    assert out["poll"]["state"] == POLL_WAITING
    assert 4 <= wait <= 5  # lands on the deadline, where the next poll decides TIMED_OUT


def test_waits_are_scaled_by_the_time_scale(clock, provider, jobs_table):
    scale = 10.0
    job = Job(
        job_id="0123456789abcdef0123456789abcdef",
        kind="image",
        source=Source("media", "uploads/cat.png"),
        video_key="outputs/cat.mp4",
        manifest_key="outputs/cat.json",
        request={"mode": "Standard"},
    )
    state = initial_state(
        job, task_id="task-1", submitted_at=iso(clock()), deadline_at=clock() + 90, first_wait=5
    )
    deps = StatusDeps(client=provider, jobs=jobs_table, clock=clock, time_scale=scale, rng=random.Random(1))
    # 2 wall seconds at 10x are 20 provider seconds: the window opens at 54, so wait 34 provider s = 3 wall s
    out = poll(state, deps, result("TASK_STATUS_PROCESSING"), advance=2)
    assert out["poll"]["wait_seconds"] == 3
    # deep into the window: a 10 s blind step is 1 wall second
    out = poll(state, deps, result("TASK_STATUS_PROCESSING"), advance=8)
    assert out["poll"]["wait_seconds"] == 1
