"""The status step: one poll, then what next and how long to wait (i2v.steps.check_status)."""

from __future__ import annotations

import json
import random

import pytest

from i2v.clock import iso
from i2v.contracts.errors import ErrorDetail
from i2v.contracts.job import Job, JobKind, Source
from i2v.contracts.state import Task, WorkflowState
from i2v.contracts.status import PollState, Stage
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
        kind=JobKind.IMAGE,
        source=Source("media", "uploads/cat.png"),
        video_key="outputs/cat.mp4",
        manifest_key="outputs/cat.json",
        image_key="uploads/cat.png",
        request={"mode": "Standard", "prompt": "p"},
        timings={"uploaded_at": iso(clock() - 5)},
    )
    return WorkflowState.started(job, Task("task-1", iso(clock())), deadline_at=clock() + DEADLINE, first_wait=54)


@pytest.fixture
def deps(provider, clock, jobs_table):
    return StatusDeps(client=provider, jobs=jobs_table, clock=clock, rng=random.Random(7))


class Execution:
    """One workflow execution: each status step gets the previous step's output, as JSON (as Step Functions does)."""

    def __init__(self, state: WorkflowState, deps: StatusDeps) -> None:
        self.state = state
        self.deps = deps

    def poll(self, reply, advance: float = 0.0) -> WorkflowState:
        self.deps.clock.advance(advance)
        self.deps.client.result_replies.append(reply)
        self.state = check_status(WorkflowState.from_dict(json.loads(json.dumps(self.state.to_dict()))), self.deps)
        return self.state


@pytest.fixture
def run(state, deps) -> Execution:
    return Execution(state, deps)


def test_success_carries_the_video_url_and_completion_time(run, clock, provider):
    out = run.poll(done(ttl=1800), advance=75)
    assert provider.polled == ["task-1"]
    assert out.poll.state is PollState.SUCCEEDED
    assert out.poll.video_url == "https://cdn.example.com/v.mp4"
    assert out.poll.video_ttl == 1800
    assert out.poll.completed_at == iso(clock())
    assert out.job.timings["completed_at"] == iso(clock())
    assert out.poll.provider_status == "TASK_STATUS_SUCCEED"
    assert out.error is None


def test_success_without_a_video_fails(run):
    out = run.poll(result("TASK_STATUS_SUCCEED"))
    assert out.poll.state is PollState.FAILED
    assert out.error.code == "NO_VIDEO"


def test_still_running_waits(run):
    out = run.poll(result("TASK_STATUS_PROCESSING", progress_percent=50), advance=60)
    assert out.poll.state is PollState.WAITING
    assert out.poll.wait_seconds == 51  # 60 s elapsed at 50 %: about 60 s left, trusted at 85 %
    assert out.poll.polls == 1
    assert out.poll.progress_percent == 50
    assert out.error is None


def test_an_unknown_status_keeps_polling(run):
    out = run.poll(result("TASK_STATUS_WARMING_UP"), advance=100)
    assert out.poll.state is PollState.WAITING
    assert out.poll.provider_status == "TASK_STATUS_WARMING_UP"


def test_progress_is_recorded_in_the_jobs_table(run, jobs_table):
    run.poll(result("TASK_STATUS_PROCESSING", progress_percent=42), advance=60)
    item = jobs_table.get(run.state.job.job_id)
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
def test_provider_failure_with_its_reason(run, reason, code):
    out = run.poll(result("TASK_STATUS_FAILED", reason=reason))
    assert out.poll.state is PollState.FAILED
    assert out.error.code == code
    assert out.error.stage == "poll" and out.error.retryable is False
    assert (reason or "no reason given") in out.error.message


def test_task_failed_reply(run):
    out = run.poll(TaskFailed("TASK_FAILED", "render error", 500))
    assert out.error.code == "TASK_FAILED"
    assert "render error" in out.error.message


def test_task_not_found_is_retried_then_fails(run):
    waits = []
    for _ in range(MAX_NOT_FOUND):
        out = run.poll(TaskNotFound("TASK_NOT_FOUND", "no such task", 404))
        assert out.poll.state is PollState.WAITING
        waits.append(out.poll.wait_seconds)
    assert waits == sorted(waits) and waits[0] >= 1
    out = run.poll(TaskNotFound("TASK_NOT_FOUND", "no such task", 404))
    assert out.poll.state is PollState.FAILED
    assert out.error.code == "TASK_NOT_FOUND"
    assert MAX_NOT_FOUND == 3


def test_transient_errors_back_off_then_fail_as_provider_unavailable(run):
    waits = []
    for _ in range(MAX_TRANSIENT_ERRORS):
        out = run.poll(ProviderUnavailable("GET_RESULT_FAILED", "busy", 500))
        assert out.poll.state is PollState.WAITING
        waits.append(out.poll.wait_seconds)
    assert all(1 <= w <= 60 for w in waits)
    assert waits[-1] > waits[0]  # backing off
    out = run.poll(ProviderUnavailable("GET_RESULT_FAILED", "busy", 500))
    assert out.poll.state is PollState.FAILED
    assert out.error.code == "PROVIDER_UNAVAILABLE"
    assert out.error.retryable is True
    assert "GET_RESULT_FAILED" in out.error.message


def test_a_good_reply_resets_the_error_count(run):
    for _ in range(MAX_TRANSIENT_ERRORS):
        run.poll(ProviderRateLimited("RATE_LIMIT_EXCEEDED", "slow down", 429))
    run.poll(result("TASK_STATUS_PROCESSING"))
    out = run.poll(ProviderUnavailable("HTTP_502", "", 502))
    assert out.poll.state is PollState.WAITING
    assert out.poll.errors == 1


def test_account_error_fails_at_once(run):
    out = run.poll(ProviderAccountError("INVALID_API_KEY", "key revoked", 403))
    assert out.poll.state is PollState.FAILED
    assert out.error.code == "INVALID_API_KEY"
    assert out.error.retryable is False


def test_a_rejected_poll_fails_with_the_providers_reason(run):
    out = run.poll(ProviderRejected("INVALID_REQUEST_BODY", "bad task id", 400))
    assert out.error.code == "INVALID_REQUEST_BODY"


def test_timed_out_at_the_deadline(run):
    run.poll(result("TASK_STATUS_PROCESSING"), advance=60)
    out = run.poll(result("TASK_STATUS_PROCESSING"), advance=DEADLINE - 60)
    assert out.poll.state is PollState.FAILED
    assert out.error.code == "TIMED_OUT"
    assert out.error.retryable is True
    assert "TASK_STATUS_PROCESSING" in out.error.message


def test_a_video_ready_at_the_deadline_still_wins(run):
    out = run.poll(done(), advance=DEADLINE + 5)
    assert out.poll.state is PollState.SUCCEEDED


def test_the_wait_never_runs_past_the_deadline(run):
    out = run.poll(result("TASK_STATUS_PROCESSING"), advance=DEADLINE - 4)
    wait = out.poll.wait_seconds
    assert out.poll.state is PollState.WAITING
    assert 4 <= wait <= 5  # lands on the deadline, where the next poll decides TIMED_OUT


def test_waits_are_scaled_by_the_time_scale(clock, provider, jobs_table):
    scale = 10.0
    job = Job(
        job_id="0123456789abcdef0123456789abcdef",
        kind=JobKind.IMAGE,
        source=Source("media", "uploads/cat.png"),
        video_key="outputs/cat.mp4",
        manifest_key="outputs/cat.json",
        request={"mode": "Standard"},
    )
    state = WorkflowState.started(job, Task("task-1", iso(clock())), deadline_at=clock() + 90, first_wait=5)
    run = Execution(state, StatusDeps(client=provider, jobs=jobs_table, clock=clock, time_scale=scale,
                                      rng=random.Random(1)))
    # 2 wall seconds at 10x are 20 provider seconds: the window opens at 54, so wait 34 provider s = 3 wall s
    out = run.poll(result("TASK_STATUS_PROCESSING"), advance=2)
    assert out.poll.wait_seconds == 3
    # deep into the window: a 10 s blind step is 1 wall second
    out = run.poll(result("TASK_STATUS_PROCESSING"), advance=8)
    assert out.poll.wait_seconds == 1


# --- the typed state ------------------------------------------------------------------------------------


def test_the_step_returns_the_state_it_was_given_advanced(state, deps):
    deps.client.result_replies.append(result("TASK_STATUS_PROCESSING"))
    out = check_status(state, deps)
    assert out is state
    assert (out.poll.polls, out.task.task_id, out.deadline_at) == (1, "task-1", state.deadline_at)


def test_a_state_without_a_task_fails_without_calling_the_provider(state, deps, provider):
    state.task = None
    out = check_status(state, deps)
    assert provider.polled == []
    assert out.poll.state is PollState.FAILED
    assert out.error == ErrorDetail(code="INTERNAL_ERROR", stage=Stage.POLL, retryable=False,
                                    message="the workflow reached the status step without a task")


def test_a_failed_state_is_what_the_asl_sends_to_the_failure_report(run):
    out = run.poll(result("TASK_STATUS_FAILED", reason="ILLEGAL_IMAGE_CONTENT"))
    data = json.loads(json.dumps(out.to_dict()))
    assert data["poll"]["state"] == "FAILED" and data["error"]["code"] == "ILLEGAL_IMAGE_CONTENT"
    assert data["error"]["stage"] == "poll"


def test_every_outcome_is_json_for_the_workflow(run):
    for reply in (result("TASK_STATUS_PROCESSING", progress_percent=12.5, eta=30), TaskNotFound("TASK_NOT_FOUND", "x", 404),
                  ProviderUnavailable("GET_RESULT_FAILED", "busy", 500), done()):
        out = run.poll(reply, advance=20)
        assert WorkflowState.from_dict(json.loads(json.dumps(out.to_dict()))) == out
