"""The status step: ask the provider once, decide what happens next and how long to wait."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Protocol

from i2v import constants as c
from i2v.backoff import backoff
from i2v.clock import Clock, iso, parse_iso, system_clock
from i2v.contracts.errors import ErrorCode, ErrorDetail, error_code
from i2v.contracts.state import WorkflowState
from i2v.contracts.status import PollState, Stage
from i2v.observability import logger, provider_error
from i2v.polling import DEFAULT_POLICY, PollingPolicy, scaled
from i2v.provider.errors import ProviderAccountError, ProviderError, TaskFailed, TaskNotFound
from i2v.provider.models import STATUS_FAILED, STATUS_SUCCEED, TaskResult

MAX_NOT_FOUND = 3  # a fresh task can briefly be unknown to the result API
MAX_TRANSIENT_ERRORS = 8


class ResultApi(Protocol):
    def get_result(self, task_id: str) -> TaskResult: ...


class ProgressRecords(Protocol):
    def update(self, job_id: str, **fields: Any) -> None: ...


@dataclass
class StatusDeps:
    client: ResultApi
    jobs: ProgressRecords | None = None  # for progress tracking (`i2v jobs`)
    time_scale: float = 1.0
    policy: PollingPolicy = DEFAULT_POLICY
    clock: Clock = system_clock
    rng: random.Random = field(default_factory=random.Random)


def _fail(state: WorkflowState, code: str, message: str, retryable: bool = False) -> WorkflowState:
    return state.fail(ErrorDetail(code=code, message=message, stage=Stage.POLL, retryable=retryable))


def check_status(state: WorkflowState, deps: StatusDeps) -> WorkflowState:
    state = _check(state, deps)
    if deps.jobs is not None:
        poll = state.poll
        deps.jobs.update(state.job.job_id, polls=poll.polls, provider_status=poll.provider_status,
                         progress_percent=poll.progress_percent, updated_at=iso(deps.clock()))
    return state


def _check(state: WorkflowState, deps: StatusDeps) -> WorkflowState:
    poll = state.poll
    if state.task is None:
        return _fail(state, ErrorCode.INTERNAL_ERROR, "the workflow reached the status step without a task")
    task_id = state.task.task_id
    poll.polls += 1
    now = deps.clock()
    mode = state.mode or c.DEFAULT_MODE
    elapsed = (now - parse_iso(state.task.submitted_at)) * deps.time_scale
    try:
        result = deps.client.get_result(task_id)
    except TaskNotFound as exc:
        provider_error(exc.reason)
        poll.not_found += 1
        if poll.not_found > MAX_NOT_FOUND:
            return _fail(state, ErrorCode.TASK_NOT_FOUND, f"the provider does not know task {task_id} "
                         f"after {poll.not_found} tries ({exc.message})")
        return _wait(state, deps, 5.0 * poll.not_found, now)
    except ProviderAccountError as exc:
        provider_error(exc.reason)
        logger.error("provider account error while polling", extra={"reason": exc.reason})
        return _fail(state, error_code(exc.reason, ErrorCode.PROVIDER_ACCOUNT_ERROR),
                     f"the provider refused the API key or account: {exc.message}")
    except TaskFailed as exc:
        return _fail(state, ErrorCode.TASK_FAILED, f"the provider reports the task failed: {exc.message}")
    except ProviderError as exc:
        provider_error(exc.reason)
        if not exc.retryable:
            return _fail(state, error_code(exc.reason, ErrorCode.PROVIDER_ERROR), exc.message)
        poll.errors += 1
        logger.warning("transient provider error while polling", extra={"reason": exc.reason, "errors": poll.errors})
        if poll.errors > MAX_TRANSIENT_ERRORS:
            return _fail(state, ErrorCode.PROVIDER_UNAVAILABLE, f"the result API kept failing ({exc.reason}) "
                         f"{poll.errors} times", retryable=True)
        return _wait(state, deps, backoff(poll.errors, base=4.0, cap=60.0, rng=deps.rng), now)
    poll.errors = 0
    poll.not_found = 0
    poll.provider_status = result.raw_status or result.status
    poll.progress_percent = result.progress_percent
    if result.status == STATUS_SUCCEED:
        if not result.videos:
            return _fail(state, ErrorCode.NO_VIDEO, "the provider reports success but lists no video")
        poll.state = PollState.SUCCEEDED
        poll.video_url = result.videos[0].url
        poll.video_ttl = result.videos[0].ttl_seconds
        poll.completed_at = iso(now)
        state.job.timings["completed_at"] = iso(now)
        return state
    if result.status == STATUS_FAILED:
        reason = result.reason or "no reason given"
        code = error_code(reason, ErrorCode.TASK_FAILED) if reason.isupper() and " " not in reason \
            else ErrorCode.TASK_FAILED
        return _fail(state, code, f"the provider reports the task failed: {reason}")
    wait = deps.policy.next_wait(mode, result.status, elapsed, result.eta, result.progress_percent)
    return _wait(state, deps, wait, now)


def _wait(state: WorkflowState, deps: StatusDeps, provider_seconds: float, now: float) -> WorkflowState:
    deadline = state.deadline_at
    if deadline is not None and now >= deadline:
        last = state.poll.provider_status or "unanswered"
        return _fail(state, ErrorCode.TIMED_OUT, f"the task was still {last} at the deadline ({iso(deadline)}) "
                     f"after {state.poll.polls} polls", retryable=True)
    seconds = scaled(provider_seconds, deps.time_scale)
    if deadline is not None:  # never sleep past the deadline: the next poll decides TIMED_OUT
        seconds = max(1, min(seconds, int(deadline - now) + 1))
    state.poll.state = PollState.WAITING
    state.poll.wait_seconds = seconds
    return state
