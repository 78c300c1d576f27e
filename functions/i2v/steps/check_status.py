"""The status step: ask the provider once, decide what happens next and how long to wait."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from i2v import constants as c
from i2v.clock import Clock, iso, parse_iso, system_clock
from i2v.observability import logger, provider_error
from i2v.polling import DEFAULT_POLICY, PollingPolicy, scaled
from i2v.provider.errors import ProviderAccountError, ProviderError, TaskFailed, TaskNotFound, error_code
from i2v.provider.models import STATUS_FAILED, STATUS_SUCCEED
from i2v.workflow_state import POLL_FAILED, POLL_SUCCEEDED, POLL_WAITING

MAX_NOT_FOUND = 3  # a fresh task can briefly be unknown to the result API
MAX_TRANSIENT_ERRORS = 8


@dataclass
class StatusDeps:
    client: object  # HighwayClient-like: get_result(task_id)
    jobs: object | None = None  # JobsTable-like: update(job_id, **fields), for progress tracking
    time_scale: float = 1.0
    policy: PollingPolicy = DEFAULT_POLICY
    clock: Clock = system_clock
    rng: random.Random = field(default_factory=random.Random)


def _fail(state: dict, code: str, message: str, retryable: bool = False) -> dict:
    state["poll"]["state"] = POLL_FAILED
    state["error"] = {"code": code, "message": message, "stage": "poll", "retryable": retryable}
    return state


def check_status(state: dict, deps: StatusDeps) -> dict:
    state = _check(state, deps)
    if deps.jobs is not None:
        poll = state["poll"]
        deps.jobs.update(state["job"]["job_id"], polls=poll["polls"], provider_status=poll["provider_status"],
                         progress_percent=poll["progress_percent"], updated_at=iso(deps.clock()))
    return state


def _check(state: dict, deps: StatusDeps) -> dict:
    poll = state["poll"]
    task = state["task"] or {}
    task_id = task["task_id"]
    poll["polls"] = int(poll.get("polls") or 0) + 1
    now = deps.clock()
    mode = (state["job"].get("request") or {}).get("mode") or c.DEFAULT_MODE
    elapsed = (now - parse_iso(task["submitted_at"])) * deps.time_scale if task.get("submitted_at") else 0.0
    try:
        result = deps.client.get_result(task_id)
    except TaskNotFound as exc:
        provider_error(exc.reason)
        poll["not_found"] = int(poll.get("not_found") or 0) + 1
        if poll["not_found"] > MAX_NOT_FOUND:
            return _fail(state, "TASK_NOT_FOUND", f"the provider does not know task {task_id} "
                         f"after {poll['not_found']} tries ({exc.message})")
        return _wait(state, deps, 5.0 * poll["not_found"], now)
    except ProviderAccountError as exc:
        provider_error(exc.reason)
        logger.error("provider account error while polling", extra={"reason": exc.reason})
        return _fail(state, error_code(exc.reason, "PROVIDER_ACCOUNT_ERROR"),
                     f"the provider refused the API key or account: {exc.message}")
    except TaskFailed as exc:
        return _fail(state, "TASK_FAILED", f"the provider reports the task failed: {exc.message}")
    except ProviderError as exc:
        provider_error(exc.reason)
        if not exc.retryable:
            return _fail(state, error_code(exc.reason, "PROVIDER_ERROR"), exc.message)
        poll["errors"] = int(poll.get("errors") or 0) + 1
        logger.warning("transient provider error while polling", extra={"reason": exc.reason,
                                                                          "errors": poll["errors"]})
        if poll["errors"] > MAX_TRANSIENT_ERRORS:
            return _fail(state, "PROVIDER_UNAVAILABLE", f"the result API kept failing ({exc.reason}) "
                         f"{poll['errors']} times", retryable=True)
        backoff = min(60.0, 2.0 ** poll["errors"]) * (0.5 + deps.rng.random() / 2)
        return _wait(state, deps, backoff, now)
    poll["errors"] = 0
    poll["not_found"] = 0
    poll["provider_status"] = result.raw_status or result.status
    poll["progress_percent"] = result.progress_percent
    if result.status == STATUS_SUCCEED:
        if not result.videos:
            return _fail(state, "NO_VIDEO", "the provider reports success but lists no video")
        poll["state"] = POLL_SUCCEEDED
        poll["video_url"] = result.videos[0].url
        poll["video_ttl"] = result.videos[0].ttl_seconds
        poll["completed_at"] = iso(now)
        state["job"].setdefault("timings", {})["completed_at"] = iso(now)
        return state
    if result.status == STATUS_FAILED:
        reason = result.reason or "no reason given"
        code = error_code(reason, "TASK_FAILED") if reason.isupper() and " " not in reason else "TASK_FAILED"
        return _fail(state, code, f"the provider reports the task failed: {reason}")
    wait = deps.policy.next_wait(mode, result.status, elapsed, result.eta, result.progress_percent)
    return _wait(state, deps, wait, now)


def _wait(state: dict, deps: StatusDeps, provider_seconds: float, now: float) -> dict:
    deadline = state.get("deadline_at")
    if deadline is not None and now >= deadline:
        last = state["poll"].get("provider_status") or "unanswered"
        return _fail(state, "TIMED_OUT", f"the task was still {last} at the deadline ({iso(deadline)}) "
                     f"after {state['poll']['polls']} polls", retryable=True)
    seconds = scaled(provider_seconds, deps.time_scale)
    if deadline is not None:  # never sleep past the deadline: the next poll decides TIMED_OUT
        seconds = max(1, min(seconds, int(deadline - now) + 1))
    state["poll"]["state"] = POLL_WAITING
    state["poll"]["wait_seconds"] = seconds
    return state
