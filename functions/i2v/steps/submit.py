"""The submit step: one S3 event record in, at most one paid provider task out.

Order of work: skip what is not a job; build and validate the job (a bad job goes straight to
the failure report, no money spent); take capacity (or go back to the queue with a delay);
record the intent; submit once; start the workflow named after the job.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from i2v import constants as c
from i2v.capacity import Capacity
from i2v.clock import Clock, iso, system_clock
from i2v.errors import AtCapacity, JobError, SubmitOutcomeUnknown
from i2v.jobs import keys
from i2v.jobs.build import identify, prepare
from i2v.jobs.params import stack_defaults
from i2v.models import Job
from i2v.observability import bind_job, logger, metrics, provider_error
from i2v.polling import DEFAULT_POLICY, scaled
from i2v.provider.errors import (
    ProviderAccountError,
    ProviderError,
    ProviderRateLimited,
    SubmitReplyLost,
    error_code,
)
from i2v.provider.models import SubmitRequest
from i2v.settings import Settings
from i2v.workflow_state import initial_state

SKIPPED, STARTED, FAILED, DUPLICATE, DEFERRED = "skipped", "started", "failed", "duplicate", "deferred"
FINAL_STATUSES = {"GENERATING", "STORING", "SUCCEEDED", "FAILING", "FAILED"}


@dataclass
class SubmitDeps:
    settings: Settings
    bucket: object  # S3Bucket-like (ObjectStore + presign_get)
    jobs: object  # JobsTable-like
    workflow: object  # Workflow-like: start(name, state) -> bool
    capacity: Capacity
    client: Callable[[], object]  # lazily made HighwayClient (reads the secret on first use)
    send_later: Callable[..., None]  # (body, delay, attempt, deferrals, redrive)
    clock: Clock = system_clock
    rng: random.Random = field(default_factory=random.Random)
    once: Callable[[Callable[[dict], dict], dict], dict] = lambda fn, payload: fn(payload)  # idempotency


@dataclass(frozen=True)
class Delivery:
    """One S3 event record as it came off the queue, with our retry bookkeeping."""

    record: dict
    attempt: int = 1
    deferrals: int = 0
    redrive: int = 0  # > 0: an operator's deliberate retry of a finished job


def _job_error(code: str, message: str, stage: str, retryable: bool = False) -> dict:
    return {"code": code, "message": message, "stage": stage, "retryable": retryable}


class Submitter:
    def __init__(self, deps: SubmitDeps) -> None:
        self.d = deps
        self.s = deps.settings

    # -- entry --------------------------------------------------------------------------------
    def process(self, delivery: Delivery) -> str:
        record = delivery.record
        event_name = str(record.get("eventName", ""))
        if event_name and not event_name.startswith("ObjectCreated"):
            logger.info("skipping event that is not an upload", extra={"event_name": event_name})
            return SKIPPED
        s3 = record.get("s3") or {}
        obj = s3.get("object") or {}
        bucket = (s3.get("bucket") or {}).get("name") or self.s.bucket
        key = keys.decode_event_key(str(obj.get("key", "")))
        found = identify(bucket, key, obj.get("versionId"), obj.get("eTag"), self.s.uploads_prefix,
                         self.s.outputs_prefix)
        if not isinstance(found, Job):
            logger.info("skipping object that is not a job", extra={"key": key, "why": found.reason})
            metrics.add_metric(name=c.METRIC_SKIPPED, unit="Count", value=1)
            return SKIPPED
        job = found
        bind_job(job.job_id)
        job.uploaded_at = record.get("eventTime") or iso(self.d.clock())
        job.timings["uploaded_at"] = job.uploaded_at
        existing = self.d.jobs.get(job.job_id)
        if existing and int(existing.get("redrive") or 0) != delivery.redrive:
            logger.info("stale event from before an operator's retry", extra={"redrive": delivery.redrive})
            metrics.add_metric(name=c.METRIC_DUPLICATES, unit="Count", value=1)
            return DUPLICATE
        if existing and existing.get("status") in FINAL_STATUSES:
            logger.info("duplicate event for a job already under way", extra={"status": existing["status"]})
            metrics.add_metric(name=c.METRIC_DUPLICATES, unit="Count", value=1)
            return DUPLICATE
        if not existing:
            self.d.jobs.update(job.job_id, status="QUEUED", source=job.source.to_dict(), kind=job.kind,
                               video_key=job.video_key, manifest_key=job.manifest_key,
                               uploaded_at=job.uploaded_at, updated_at=iso(self.d.clock()))
        try:
            prepared = prepare(job, self.d.bucket, self.s.uploads_prefix, self._stack_defaults())
        except JobError as exc:
            logger.info("job rejected before submission", extra={"error_code": exc.code})
            return self._fail(job, exc.to_dict(), delivery)
        self.d.jobs.update(job.job_id, request=job.request, image_key=job.image_key)
        return self._submit(prepared, delivery)

    def _stack_defaults(self) -> dict:
        return stack_defaults(self.s.defaults)

    # -- submission ---------------------------------------------------------------------------
    def _submit(self, prepared, delivery: Delivery) -> str:
        job: Job = prepared.job
        payload = {"job_id": job.job_id, "redrive": delivery.redrive, "job": job.to_dict(),
                   "mode": prepared.params.mode}
        try:
            outcome = self.d.once(self._submit_to_provider, payload)
        except AtCapacity as exc:
            return self._defer(delivery, exc.retry_after, f"waiting for capacity: {exc.reason}",
                               attempt=delivery.attempt, deferrals=delivery.deferrals + 1)
        except ProviderRateLimited as exc:
            provider_error(exc.reason)
            return self._defer(delivery, self._backoff(delivery.attempt), f"provider rate limit ({exc.reason})",
                               attempt=delivery.attempt + 1, deferrals=delivery.deferrals)
        except ProviderError as exc:  # retryable: 5xx or nothing sent
            provider_error(exc.reason)
            if delivery.attempt >= self.s.submit_max_attempts:
                return self._fail(job, delivery=delivery, error=_job_error("PROVIDER_UNAVAILABLE", f"the provider failed to create the "
                                                  f"task {delivery.attempt} times (last: {exc.reason}: {exc.message})",
                                                  "submit", True))
            return self._defer(delivery, self._backoff(delivery.attempt), f"provider error {exc.reason}",
                               attempt=delivery.attempt + 1, deferrals=delivery.deferrals)
        if outcome.get("error"):
            return self._fail(job, outcome["error"], delivery)
        job.timings["submitted_at"] = outcome["submitted_at"]
        state = initial_state(job, task_id=outcome["task_id"], submitted_at=outcome["submitted_at"],
                              deadline_at=outcome["deadline_at"],
                              first_wait=scaled(DEFAULT_POLICY.first_wait(prepared.params.mode), self.s.time_scale))
        started = self.d.workflow.start(keys.execution_name(job.job_id, delivery.redrive), state)
        self.d.jobs.update(job.job_id, status="GENERATING", task_id=outcome["task_id"],
                           submitted_at=outcome["submitted_at"], updated_at=iso(self.d.clock()))
        bind_job(job.job_id, outcome["task_id"])
        logger.info("task submitted and workflow started" if started else "workflow was already started")
        return STARTED if started else DUPLICATE

    def _submit_to_provider(self, payload: dict) -> dict:
        """Runs at most once per job id (wrapped in Powertools idempotency by the handler).

        Returns {"task_id", "submitted_at", "deadline_at"} or {"error": {...}} for outcomes that end
        the job; raises AtCapacity / retryable ProviderError for outcomes worth another try.
        """
        job = Job.from_dict(payload["job"])
        mode = payload["mode"]
        deadline_seconds = self.s.deadline_for(mode)
        self.d.capacity.acquire(job.job_id, lease_seconds=deadline_seconds + 300 / self.s.time_scale)
        now = self.d.clock()
        if not self.d.jobs.mark_submit_started(job.job_id, iso(now)):
            return {"error": SubmitOutcomeUnknown(
                "an earlier attempt sent this job to the provider but did not record the reply; not resubmitting "
                "to avoid paying twice (redrive it on purpose with `i2v jobs retry`)").to_dict()}
        request = self._request(job)
        try:
            task_id = self.d.client().submit(request)
        except SubmitReplyLost as exc:
            provider_error(exc.reason)
            return {"error": SubmitOutcomeUnknown(exc.message).to_dict()}
        except ProviderAccountError as exc:
            provider_error(exc.reason)
            logger.error("provider account error: operators must act", extra={"reason": exc.reason})
            self.d.capacity.release(job.job_id)
            return {"error": _job_error(error_code(exc.reason, "PROVIDER_ACCOUNT_ERROR"), exc.message, "submit")}
        except ProviderError as exc:
            provider_error(exc.reason)
            self.d.jobs.clear_submit_started(job.job_id)  # the provider certainly created nothing
            self.d.capacity.release(job.job_id)
            if exc.retryable:
                raise
            return {"error": _job_error(error_code(exc.reason, "PROVIDER_REJECTED"), exc.message, "submit")}
        metrics.add_metric(name=c.METRIC_SUBMITTED, unit="Count", value=1)
        return {"task_id": task_id, "submitted_at": iso(now), "deadline_at": now + deadline_seconds}

    def _request(self, job: Job) -> SubmitRequest:
        request = job.request or {}
        version = job.source.version_id if job.image_key == job.source.key else None
        end_key = request.get("end_image_key")
        return SubmitRequest(
            image_url=self.d.bucket.presign_get(job.image_key, self.s.image_url_ttl, version),
            end_image_url=self.d.bucket.presign_get(end_key, self.s.image_url_ttl) if end_key else None,
            prompt=request["prompt"], mode=request.get("mode"), negative_prompt=request.get("negative_prompt"),
            duration=request.get("duration"), guidance_scale=request.get("guidance_scale"),
        )

    # -- outcomes -----------------------------------------------------------------------------
    def _fail(self, job: Job, error: dict, delivery: Delivery) -> str:
        """Hand a job that ends before polling to the workflow's failure path (one notification)."""
        state = initial_state(job, task_id=None, submitted_at=None, deadline_at=None, first_wait=1, error=error)
        self.d.workflow.start(keys.execution_name(job.job_id, delivery.redrive), state)
        self.d.jobs.update(job.job_id, status="FAILING", error=error, updated_at=iso(self.d.clock()))
        return FAILED

    def _backoff(self, attempt: int) -> float:
        return min(900.0, 5.0 * 2 ** (attempt - 1)) * (0.5 + self.d.rng.random() / 2)

    def _defer(self, delivery: Delivery, provider_seconds: float, why: str, *, attempt: int, deferrals: int) -> str:
        jitter = 1.0 + self.d.rng.random() * 0.5
        delay = int(round(provider_seconds * jitter / self.s.time_scale))
        self.d.send_later({"Records": [delivery.record]}, delay, attempt, deferrals, delivery.redrive)
        metrics.add_metric(name=c.METRIC_DEFERRED, unit="Count", value=1)
        logger.info("job goes back to the queue", extra={"why": why, "delay_seconds": delay, "attempt": attempt})
        return DEFERRED
