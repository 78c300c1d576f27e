"""The dispatch step: start waiting jobs, first in first out, while capacity is free.

Woken when capacity may have freed (a job ended, a job was parked, the rate window moved on) and by
a schedule as a safety net, it starts as many jobs as there are free in-flight slots and rate
tokens, in backlog order, then goes back to sleep: a waiting job is never touched in between.

Starting one job: claim it (a lease, so a crashed dispatcher's claim runs out); inside Powertools
idempotency take capacity, record the intent, submit once; start the workflow named after the job;
only then take it off the backlog. A crash at any point leaves the job in the backlog, and the next
dispatcher finds its slot, its saved submission or its running workflow instead of paying twice.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from i2v import constants as c
from i2v.backlog import Backlog, Waiting
from i2v.backoff import backoff
from i2v.capacity import Capacity, Snapshot
from i2v.clock import Clock, iso, parse_iso, system_clock
from i2v.contents import DONE, Contents, Origin
from i2v.contracts.errors import ErrorCode, ErrorDetail, ObjectChanged, SubmitOutcomeUnknown, error_code
from i2v.contracts.job import Job, Pin
from i2v.contracts.prices import price_for
from i2v.contracts.state import Task, WorkflowState
from i2v.contracts.status import JobStatus, Stage
from i2v.errors import AtCapacity, SubmissionInProgress
from i2v.jobs import keys
from i2v.jobs.build import ObjectHead
from i2v.observability import bind_job, logger, metrics, provider_error
from i2v.polling import DEFAULT_POLICY, scaled
from i2v.provider.errors import ProviderAccountError, ProviderError, ProviderRateLimited, SubmitReplyLost
from i2v.provider.models import SubmitRequest
from i2v.settings import DispatchSettings
from i2v.spend import FAIL, BudgetReached, Periods, SpendLedger, reserve
from i2v.steps.reject import reject

CLAIM_MARGIN_SECONDS = 30.0
REUSE_WAIT_SECONDS = 30.0  # a job whose very video another job is making looks again after this
PRODUCER_MARGIN_SECONDS = 600.0  # a producer's lease: its deadline and this, then another job may produce
BUDGET_RECHECK_SECONDS = 300.0  # a job held by a budget looks again at least this often (a raised budget)


class Started(StrEnum):
    STARTED = "started"  # at the provider, its workflow running
    FAILED = "failed"  # ended before polling (refused, lost reply, gave up): its failure report is on its way
    BUSY = "busy"  # another dispatcher has it
    WAITS = "waits"  # another job is making its very video: it waits a little in the backlog, taking nothing
    NO_SLOT = "no_slot"  # every in-flight slot is taken: a finishing job wakes the dispatcher
    RATE = "rate"  # the rate window is used up: wake when it frees
    BACKOFF = "backoff"  # the provider asked to slow down or failed: wake after a pause
    REUSED = "reused"  # its video exists already (the same content): copied, no provider call, no capacity
    BUDGET = "budget"  # it would pass a spend budget: it waits for the next period


class Provider(Protocol):
    def submit(self, request: SubmitRequest) -> str: ...


class Inputs(Protocol):
    """What the dispatcher needs of the bucket: check an input is unchanged, and presign it."""

    def head(self, key: str, pin: Pin | None = None) -> ObjectHead | None: ...

    def presign_get(self, key: str, expires_in: int, version_id: str | None = None) -> str: ...


class Workflows(Protocol):
    def start(self, name: str, state: dict[str, Any]) -> bool: ...

    def is_running(self, name: str) -> bool: ...


class DispatchJobs(Protocol):
    def update(self, job_id: str, **fields: Any) -> None: ...

    def transition(self, job_id: str, expected: JobStatus, status: JobStatus, **fields: Any) -> bool: ...

    def mark_submit_started(self, job_id: str, at: str) -> bool: ...

    def clear_submit_started(self, job_id: str) -> None: ...


Once = Callable[[Callable[[dict[str, Any]], dict[str, Any]], dict[str, Any]], dict[str, Any]]


def _plain_once(fn: Callable[[dict[str, Any]], dict[str, Any]], payload: dict[str, Any]) -> dict[str, Any]:
    return fn(payload)


@dataclass
class DispatchDeps:
    settings: DispatchSettings
    backlog: Backlog
    jobs: DispatchJobs
    capacity: Capacity
    client: Callable[[], Provider]  # made lazily: reads the secret on first use
    bucket: Inputs
    workflow: Workflows
    wake_later: Callable[[float], None]
    contents: Contents | None = None  # pay once per content (None: every job is produced)
    spend: SpendLedger | None = None  # spend budgets (None: not counted)
    once: Once = _plain_once  # Powertools idempotency in the Lambda
    clock: Clock = system_clock
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class Round:
    """What one wake of the dispatcher did."""

    started: int = 0
    failed: int = 0
    reused: int = 0
    stopped: str = ""
    backlog: int | None = None
    oldest_seconds: float | None = None


class Dispatcher:
    def __init__(self, deps: DispatchDeps) -> None:
        self.d = deps
        self.s = deps.settings
        self._job_budget: float = c.DISPATCH_JOB_BUDGET_SECONDS

    def run(self, seconds_left: Callable[[], float], report: bool = False) -> Round:
        """Start jobs until capacity, the backlog or the time runs out; ``report``: measure the backlog."""
        done = Round()
        # A new job starts only while one more job's worst case fits in the time left (at most half of
        # the invocation: the stack's timeout leaves room for several; a short local one for one).
        self._job_budget = min(c.DISPATCH_JOB_BUDGET_SECONDS, seconds_left() / 2)
        while not done.stopped:
            done.stopped = self._one_pass(done, seconds_left, recover=report)
        if report:
            self._report(done)
        logger.info("dispatch round", extra={"started": done.started, "failed": done.failed,
                                             "stopped": done.stopped})
        return done

    def _one_pass(self, done: Round, seconds_left: Callable[[], float], recover: bool) -> str:
        """One look at the backlog. With every slot taken, only ``recover`` looks further: a job whose
        dispatcher died holds a slot of its own and can go on (the schedule's wake does this)."""
        snapshot = self.d.capacity.snapshot()
        taken = done.started + done.failed
        if snapshot.free_slots == 0 and not (recover and snapshot.holders):
            return "every in-flight slot is taken"
        if snapshot.free_tokens == 0:
            self._wake_at(snapshot.next_token_at, "rate window")
            return "the rate window is used up"
        room = snapshot.can_start or 1  # 1: with no free slot, a dead dispatcher's job may go on in its own
        entries = self.d.backlog.head(room + 5)
        progressed = False
        now = self.d.clock()
        # A job ahead in line that another dispatcher is starting takes one of the free slots this pass saw:
        # starting a later job in it instead would pass the earlier one (first in, first out).
        theirs = 0
        for entry in entries:
            if done.started + done.failed + theirs >= taken + room:
                if progressed:
                    return ""  # this pass used the room it saw; the next one looks again
                return "the free slots are for jobs other dispatchers are starting"
            if entry.ghost:
                self.d.backlog.leave(entry.job_id)
                continue
            if not entry.available(now):
                theirs += entry.status == JobStatus.SUBMITTING and self._needs_a_slot(entry, snapshot)
                continue
            held = entry.status == JobStatus.HELD  # its grace period is over: it fails, taking no capacity
            if snapshot.free_slots == 0 and entry.job_id not in snapshot.holders and not held:
                continue
            if seconds_left() < self._job_budget:
                return "the function's time is nearly up"
            outcome = self.start(entry, seconds_left)
            if outcome == Started.REUSED:  # took no capacity: the room this pass saw is still there
                done.reused += 1
                progressed = True
            elif outcome == Started.STARTED:
                done.started += 1
                progressed = True
            elif outcome == Started.FAILED:
                done.failed += 1
                progressed = True
            elif outcome == Started.BUSY:  # claimed by another dispatcher a moment ago
                theirs += self._needs_a_slot(entry, snapshot)
            elif outcome in (Started.NO_SLOT, Started.RATE, Started.BACKOFF, Started.BUDGET):
                return f"stopped: {outcome.value}"
        if progressed:
            return ""
        later = [e.not_before for e in entries if not e.ghost and e.not_before is not None and e.not_before > now]
        if later:
            self._wake_at(min(later), "a waiting job's pause ends")
        return "no waiting job can start now"

    @staticmethod
    def _needs_a_slot(entry: Waiting, snapshot: Snapshot) -> bool:
        """A job another dispatcher holds will take one of the free slots (unless it holds its slot already)."""
        return snapshot.free_slots > 0 and entry.job_id not in snapshot.holders

    def _wake_at(self, when: float | None, why: str) -> None:
        if when is not None:
            self.d.wake_later(max(1.0, when - self.d.clock()))
            logger.info("dispatcher will wake itself", extra={"why": why})

    # -- one job ---------------------------------------------------------------------------------
    def start(self, entry: Waiting, seconds_left: Callable[[], float]) -> Started:
        now = self.d.clock()
        # The claim outlives this invocation (plus a margin for clock skew), so a live claim is never taken twice.
        claim_until = now + seconds_left() + CLAIM_MARGIN_SECONDS / self.s.time_scale
        record = self.d.backlog.claim(entry.job_id, until=claim_until, now=now)
        if record is None:
            return Started.BUSY
        job = Job.from_dict(record)
        bind_job(job.job_id)
        redrive = int(record.get("redrive") or 0)
        if record.get("held_error"):  # no job file named it in time, or its image never arrived
            return self._fail(job, redrive, ErrorDetail.from_document(record["held_error"], Stage.VALIDATE))
        if job.content_key and self.d.contents is not None:
            reuse = self._reuse(job, redrive)
            if reuse is not None:
                return reuse
        attempts = int(record.get("attempts") or 0)
        payload = {"job_id": job.job_id, "redrive": redrive, "job": job.to_dict()}
        try:
            outcome = self.d.once(self._submit_to_provider, payload)
        except AtCapacity as exc:
            self.d.backlog.unclaim(job.job_id)
            if exc.rate_limited:
                self.d.wake_later(exc.retry_after)
                return Started.RATE
            return Started.NO_SLOT
        except SubmissionInProgress:
            self.d.backlog.unclaim(job.job_id)
            return Started.BUSY
        except BudgetReached as exc:
            metrics.add_metric(name=c.METRIC_BUDGET_WAITS, unit="Count", value=1)
            if self.s.budget.action == FAIL:
                return self._fail(job, redrive, ErrorDetail(code=ErrorCode.BUDGET_EXCEEDED, stage=Stage.SUBMIT,
                                                            message=f"{exc.message}; the stack fails such jobs "
                                                                    "(budgetAction=fail)"))
            # A raised budget is seen within minutes; otherwise the job waits for the next period.
            retry_at = min(exc.retry_at, self.d.clock() + BUDGET_RECHECK_SECONDS / self.s.time_scale)
            self.d.backlog.unclaim(job.job_id, not_before=retry_at)
            self.d.wake_later(retry_at - self.d.clock())
            logger.info("spend budget reached: the job waits", extra={"why": exc.message})
            return Started.BUDGET
        except ProviderRateLimited as exc:
            provider_error(exc.reason)
            pause = backoff(attempts + 1, base=5.0, cap=300.0, rng=self.d.rng) / self.s.time_scale
            self.d.backlog.unclaim(job.job_id, attempts=attempts + 1)
            self.d.wake_later(pause)
            logger.info("provider rate limit: the job keeps its place", extra={"pause_seconds": round(pause, 1)})
            return Started.BACKOFF
        except ProviderError as exc:  # retryable: 5xx or nothing sent
            provider_error(exc.reason)
            attempts += 1
            if attempts >= self.s.submit_max_attempts:
                return self._fail(job, redrive, ErrorDetail(
                    code=ErrorCode.PROVIDER_UNAVAILABLE, stage=Stage.SUBMIT, retryable=True,
                    message=f"the provider failed to create the task {attempts} times "
                            f"(last: {exc.reason}: {exc.message})"))
            pause = backoff(attempts, base=5.0, cap=900.0, rng=self.d.rng) / self.s.time_scale
            self.d.backlog.unclaim(job.job_id, not_before=self.d.clock() + pause, attempts=attempts)
            self.d.wake_later(pause)
            return Started.BACKOFF
        if outcome.get("error"):
            return self._fail(job, redrive, ErrorDetail.from_document(outcome["error"], Stage.SUBMIT))
        return self._started(job, redrive, outcome)

    def _started(self, job: Job, redrive: int, outcome: dict[str, Any]) -> Started:
        task = Task(task_id=outcome["task_id"], submitted_at=outcome["submitted_at"])
        job.timings["submitted_at"] = task.submitted_at
        job.price_usd = outcome.get("price_usd")
        mode = (job.request or {}).get("mode") or c.DEFAULT_MODE
        state = WorkflowState.started(job, task, deadline_at=float(outcome["deadline_at"]),
                                      first_wait=scaled(DEFAULT_POLICY.first_wait(mode), self.s.time_scale))
        name = keys.execution_name(job.job_id, redrive)
        if not self.d.workflow.start(name, state.to_dict()) and not self.d.workflow.is_running(name):
            # A dispatcher died after starting this workflow, which has ended since: its store step gave
            # back the slot the job held then; give back the one this attempt found or took.
            self.d.capacity.release(job.job_id)
        self.d.jobs.transition(job.job_id, JobStatus.SUBMITTING, JobStatus.GENERATING, task_id=task.task_id,
                               submitted_at=task.submitted_at, timings=job.timings, price_usd=job.price_usd,
                               updated_at=iso(self.d.clock()))
        self.d.backlog.leave(job.job_id)
        bind_job(job.job_id, task.task_id)
        logger.info("job started", extra={"queue_seconds": _seconds(job.uploaded_at, task.submitted_at)})
        return Started.STARTED

    def _reuse(self, job: Job, redrive: int) -> Started | None:
        """Pay once per content: copy the video this content made before, wait for the job making it, or
        become the one that makes it (None: go on and submit)."""
        assert self.d.contents is not None and job.content_key is not None
        key, now = job.content_key, self.d.clock()
        origin = self.d.contents.find(key)
        if origin is not None and origin.state == DONE:
            if self._still_there(origin):
                return self._start_reused(job, redrive, origin)
            logger.info("the earlier video of this content is gone: it is made again", extra={"origin": origin.job_id})
            self.d.contents.forget(key, origin.job_id)
        elif origin is not None and origin.job_id != job.job_id and origin.until > now:
            return self._wait_for_producer(job, now)
        mode = (job.request or {}).get("mode") or c.DEFAULT_MODE
        until = now + self.s.deadline_for(mode) + PRODUCER_MARGIN_SECONDS / self.s.time_scale
        if not self.d.contents.produce(key, job.job_id, until, now):
            return self._wait_for_producer(job, now)
        return None

    def _still_there(self, origin: Origin) -> bool:
        """The earlier video can be copied: its version exists, and its name was not deleted since (in a
        versioned bucket a delete, by hand or by a lifecycle rule, leaves the version behind a delete
        marker: whoever deleted the video wanted it gone, so it is made again rather than brought back)."""
        if not origin.key or not origin.version_id:
            return False
        return self.d.bucket.head(origin.key, Pin(version_id=origin.version_id)) is not None \
            and self.d.bucket.head(origin.key) is not None

    def _wait_for_producer(self, job: Job, now: float) -> Started:
        """Another job is making this very video: wait for it in the backlog instead of paying again."""
        pause = REUSE_WAIT_SECONDS / self.s.time_scale
        self.d.backlog.unclaim(job.job_id, not_before=now + pause)
        self.d.wake_later(pause)
        return Started.WAITS

    def _start_reused(self, job: Job, redrive: int, origin: Origin) -> Started:
        mode, duration = (job.request or {}).get("mode") or c.DEFAULT_MODE, (job.request or {}).get("duration") or 5
        saved = price_for(self.s.prices, mode, int(duration))
        job.price_usd = 0.0
        state = WorkflowState.reused(job, origin.to_dict())
        self.d.workflow.start(keys.execution_name(job.job_id, redrive), state.to_dict())
        self.d.jobs.transition(job.job_id, JobStatus.SUBMITTING, JobStatus.STORING, reused_from=origin.job_id,
                               price_usd=0.0, updated_at=iso(self.d.clock()))
        self.d.backlog.leave(job.job_id)
        metrics.add_metric(name=c.METRIC_REUSED, unit="Count", value=1)
        metrics.add_metric(name=c.METRIC_REUSE_SAVED_USD, unit="Count", value=saved)
        logger.info("the same content made a video before: copying it, nothing paid",
                    extra={"reused_from": origin.job_id, "saved_usd": saved})
        return Started.REUSED

    def _fail(self, job: Job, redrive: int, error: ErrorDetail) -> Started:
        reject(job, error, redrive, workflow=self.d.workflow, jobs=self.d.jobs, clock=self.d.clock)
        self.d.backlog.leave(job.job_id)
        if error.code == ErrorCode.SUBMIT_OUTCOME_UNKNOWN:
            metrics.add_metric(name=c.METRIC_SUBMIT_OUTCOME_UNKNOWN, unit="Count", value=1)
        return Started.FAILED

    def _submit_to_provider(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Runs at most once per job id and redrive (wrapped in Powertools idempotency by the runtime).

        Returns {"task_id", "submitted_at", "deadline_at"} or {"error": {...}} for outcomes that end
        the job; raises AtCapacity / retryable ProviderError for outcomes worth another try.
        """
        job = Job.from_dict(payload["job"])
        mode = (job.request or {}).get("mode") or c.DEFAULT_MODE
        deadline_seconds = self.s.deadline_for(mode)
        self.d.capacity.acquire(job.job_id, lease_seconds=deadline_seconds + 300 / self.s.time_scale)
        try:
            request = self._request(job)
        except ObjectChanged as exc:
            self.d.capacity.release(job.job_id)
            return {"error": exc.to_dict()}
        now = self.d.clock()
        price = price_for(self.s.prices, mode, int((job.request or {}).get("duration") or c.DEFAULT_DURATION))
        if self.d.spend is not None:
            try:
                reserve(self.d.spend, price, self.s.budget, now)
            except Exception:  # over a budget, or the ledger failed: nothing was sent, the slot goes back
                self.d.capacity.release(job.job_id)
                raise
        if not self.d.jobs.mark_submit_started(job.job_id, iso(now)):
            self._refund(price, now)  # the earlier attempt reserved its own price: this one sends nothing
            return {"error": SubmitOutcomeUnknown(
                "an earlier attempt sent this job to the provider but did not record the reply; not resubmitting "
                "to avoid paying twice (redrive it on purpose with `i2v jobs retry`)").to_dict()}
        try:
            task_id = self.d.client().submit(request)
        except SubmitReplyLost as exc:
            provider_error(exc.reason)
            return {"error": SubmitOutcomeUnknown(exc.message).to_dict()}
        except ProviderAccountError as exc:
            provider_error(exc.reason)
            logger.error("provider account error: operators must act", extra={"reason": exc.reason})
            self.d.capacity.release(job.job_id)
            self._refund(price, now)
            return {"error": _error(error_code(exc.reason, ErrorCode.PROVIDER_ACCOUNT_ERROR), exc.message)}
        except ProviderError as exc:
            self.d.jobs.clear_submit_started(job.job_id)  # the provider certainly created nothing
            self.d.capacity.release(job.job_id)
            self._refund(price, now)
            if exc.retryable:
                raise
            provider_error(exc.reason)
            return {"error": _error(error_code(exc.reason, ErrorCode.PROVIDER_REJECTED), exc.message)}
        metrics.add_metric(name=c.METRIC_SUBMITTED, unit="Count", value=1)
        return {"task_id": task_id, "submitted_at": iso(now), "deadline_at": now + deadline_seconds,
                "price_usd": price}

    def _refund(self, price: float, reserved_at: float) -> None:
        """The provider certainly created nothing: give the reservation back to its periods."""
        if self.d.spend is not None:
            self.d.spend.refund(price, Periods.at(reserved_at))

    def _url(self, key: str, pin: Pin | None) -> str:
        """A presigned URL of exactly the version that was validated (checked again where S3 keeps no versions)."""
        if pin is not None and not pin.version_id and pin.etag:
            # raises ObjectChanged if the bytes were replaced since validation; None: deleted since
            if self.d.bucket.head(key, pin) is None:
                raise ObjectChanged(f"{key} was deleted after this job's upload; expected the image it was made "
                                    "for (upload it again)")
        return self.d.bucket.presign_get(key, self.s.image_url_ttl, pin.version_id if pin else None)

    def _request(self, job: Job) -> SubmitRequest:
        request = job.request or {}
        end_key = request.get("end_image_key")
        return SubmitRequest(
            image_url=self._url(job.image_key or job.source.key, job.image_pin),
            end_image_url=self._url(end_key, job.end_image_pin) if end_key else None,
            prompt=request["prompt"], mode=request.get("mode"), negative_prompt=request.get("negative_prompt"),
            duration=request.get("duration"), guidance_scale=request.get("guidance_scale"),
        )

    # -- the backlog, as an operator sees it -------------------------------------------------------
    def _report(self, done: Round) -> None:
        if self.d.spend is not None:
            today, month = self.d.spend.totals(Periods.at(self.d.clock()))
            metrics.add_metric(name=c.METRIC_SPEND_TODAY_USD, unit="Count", value=today)
            metrics.add_metric(name=c.METRIC_SPEND_MONTH_USD, unit="Count", value=month)
        done.backlog = self.d.backlog.size()
        waiting = [e for e in self.d.backlog.head(1) if not e.ghost]
        oldest = min((e.uploaded_at for e in waiting), default=None)
        done.oldest_seconds = max(0.0, self.d.clock() - parse_iso(oldest)) if oldest else 0.0
        metrics.add_metric(name=c.METRIC_BACKLOG_JOBS, unit="Count", value=done.backlog)
        metrics.add_metric(name=c.METRIC_BACKLOG_OLDEST, unit="Seconds", value=done.oldest_seconds)


def _error(code: str, message: str) -> dict[str, Any]:
    return ErrorDetail(code=code, message=message, stage=Stage.SUBMIT).to_dict()


def _seconds(start: str | None, end: str | None) -> float | None:
    return round(parse_iso(end) - parse_iso(start), 3) if start and end else None
