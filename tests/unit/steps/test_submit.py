"""The submit step with fakes: one S3 record in, at most one paid task out (i2v.steps.submit)."""

from __future__ import annotations

import dataclasses
import random
import re
from types import SimpleNamespace
from urllib.parse import quote_plus

import pytest

from i2v.capacity import Capacity, MemoryLeaseStore
from i2v.clock import iso
from i2v.jobs import keys
from i2v.polling import DEFAULT_POLICY, scaled
from i2v.provider.errors import (
    ProviderAccountError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    SubmitReplyLost,
)
from i2v.settings import Settings
from i2v.steps.submit import DEFERRED, DUPLICATE, FAILED, SKIPPED, STARTED, Delivery, SubmitDeps, Submitter
from i2v.workflow_state import POLL_FAILED, POLL_WAITING

SETTINGS = Settings(
    bucket="media",
    uploads_prefix="uploads/",
    outputs_prefix="outputs/",
    topic_arn="arn:aws:sns:eu-west-1:123456789012:i2v",
    state_machine_arn="arn:aws:states:eu-west-1:123456789012:stateMachine:i2v",
    queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/i2v",
    jobs_table="jobs",
    idempotency_table="idempotency",
    control_table="control",
    provider_url="https://api.highway.test",
    api_key_secret=None,
    max_in_flight=2,
    submits_per_minute=20,
    submit_max_attempts=3,
)


class ClientFactory:
    """The lazily made client: counts how often the step asked for it."""

    def __init__(self, client) -> None:
        self.client = client
        self.made = 0

    def __call__(self):
        self.made += 1
        return self.client


@pytest.fixture
def world(bucket, jobs_table, workflow, send_later, provider, clock):
    def build(**overrides) -> SimpleNamespace:
        settings = dataclasses.replace(SETTINGS, **overrides)
        capacity = Capacity(
            MemoryLeaseStore(),
            settings.max_in_flight,
            settings.submits_per_minute,
            settings.rate_window_seconds,
            clock=clock,
            rng=random.Random(0),
        )
        factory = ClientFactory(provider)
        deps = SubmitDeps(
            settings=settings,
            bucket=bucket,
            jobs=jobs_table,
            workflow=workflow,
            capacity=capacity,
            client=factory,
            send_later=send_later,
            clock=clock,
            rng=random.Random(0),
        )
        return SimpleNamespace(
            submitter=Submitter(deps),
            settings=settings,
            capacity=capacity,
            factory=factory,
            bucket=bucket,
            jobs=jobs_table,
            workflow=workflow,
            send_later=send_later,
            provider=provider,
            clock=clock,
        )

    return build


def record(
    key: str,
    version: str | None = "v1",
    etag: str | None = "etag1",
    event: str = "ObjectCreated:Put",
    bucket: str = "media",
) -> dict:
    obj = {"key": quote_plus(key, safe="/"), "size": 1234}
    if version:
        obj["versionId"] = version
    if etag:
        obj["eTag"] = etag
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": event,
        "eventTime": "2026-01-01T00:00:00.000Z",
        "s3": {"bucket": {"name": bucket}, "object": obj},
    }


def upload(w, key: str, data: bytes, metadata: dict | None = None) -> Delivery:
    version = w.bucket.put(key, data, metadata)
    return Delivery(record(key, version=version, etag=w.bucket.head(key).etag))


def job_id(delivery: Delivery) -> str:
    obj = delivery.record["s3"]["object"]
    return keys.job_id_for(
        "media", keys.decode_event_key(obj["key"]), obj.get("versionId") or obj.get("eTag")
    )


def redeliver(w) -> Delivery:
    """The message the step put back on the queue, as SQS would deliver it later."""
    body, _delay, attempt, deferrals = w.send_later.calls[-1]
    return Delivery(body["Records"][0], attempt=attempt, deferrals=deferrals)


# --- the good path ------------------------------------------------------------------------------


def test_a_good_image_job_submits_once_and_starts_one_execution(world, image_data):
    w = world()
    w.provider.submit_replies.append("task-1")
    delivery = upload(w, "uploads/a/cat.png", image_data(), {"prompt": "a cat on a skateboard"})
    assert w.submitter.process(delivery) == STARTED
    jid = job_id(delivery)

    [request] = w.provider.submitted
    assert request.prompt == "a cat on a skateboard"
    assert request.image_url == w.bucket.presign_get("uploads/a/cat.png", w.settings.image_url_ttl, "v1")
    assert request.body() == {
        "image_url": request.image_url,
        "prompt": "a cat on a skateboard",
        "mode": "Standard",
        "duration": 5,
        "guidance_scale": 0.5,
    }

    assert list(w.workflow.executions) == [f"job-{jid}"]
    state = w.workflow.executions[f"job-{jid}"]
    assert state["task"] == {"task_id": "task-1", "submitted_at": iso(w.clock())}
    assert state["deadline_at"] == w.clock() + w.settings.deadline_standard
    assert state["poll"]["state"] == POLL_WAITING
    assert state["poll"]["wait_seconds"] == scaled(DEFAULT_POLICY.first_wait("Standard"), 1.0)
    assert state["error"] is None
    assert state["job"]["video_key"] == "outputs/a/cat.mp4"
    assert state["job"]["timings"]["uploaded_at"] == "2026-01-01T00:00:00.000Z"
    assert state["job"]["timings"]["submitted_at"] == iso(w.clock())

    item = w.jobs.get(jid)
    assert item["status"] == "GENERATING" and item["task_id"] == "task-1"
    assert item["request"]["prompt"] == "a cat on a skateboard"
    assert w.capacity.holding(jid) is not None


def test_a_duplicate_event_starts_nothing_and_submits_nothing(world, image_data):
    w = world()
    w.provider.submit_replies.append("task-1")
    delivery = upload(w, "uploads/cat.png", image_data())
    assert w.submitter.process(delivery) == STARTED
    assert w.submitter.process(delivery) == DUPLICATE
    assert w.submitter.process(Delivery(delivery.record, attempt=2)) == DUPLICATE
    assert len(w.provider.submitted) == 1
    assert w.workflow.calls == [f"job-{job_id(delivery)}"]


def test_a_new_version_of_the_same_key_is_a_new_job(world, image_data):
    w = world()
    w.provider.submit_replies += ["task-1", "task-2"]
    assert w.submitter.process(upload(w, "uploads/cat.png", image_data())) == STARTED
    assert w.submitter.process(upload(w, "uploads/cat.png", image_data(700, 500))) == STARTED
    assert len(w.workflow.executions) == 2


def test_an_encoded_event_key_is_decoded(world, image_data):
    w = world()
    w.provider.submit_replies.append("task-1")
    delivery = upload(w, "uploads/my cat+dog é.png", image_data())
    assert "+" in delivery.record["s3"]["object"]["key"]
    assert w.submitter.process(delivery) == STARTED
    state = next(iter(w.workflow.executions.values()))
    assert state["job"]["source"]["key"] == "uploads/my cat+dog é.png"


def test_job_file_with_an_end_image_sends_both_frames(world, image_data):
    w = world()
    w.provider.submit_replies.append("task-1")
    w.bucket.put("uploads/shoot/_frames/start.png", image_data())
    w.bucket.put("uploads/shoot/_frames/end.png", image_data())
    delivery = upload(
        w,
        "uploads/shoot/cat.json",
        b'{"image": "_frames/start.png", "end_image": "_frames/end.png",'
        b' "mode": "Professional", "prompt": "turn around", "negative_prompt": "blur"}',
    )
    assert w.submitter.process(delivery) == STARTED
    [request] = w.provider.submitted
    assert request.mode == "Professional"
    assert request.image_url == w.bucket.presign_get(
        "uploads/shoot/_frames/start.png", w.settings.image_url_ttl
    )
    assert request.end_image_url == w.bucket.presign_get(
        "uploads/shoot/_frames/end.png", w.settings.image_url_ttl
    )
    assert request.negative_prompt == "blur"
    state = next(iter(w.workflow.executions.values()))
    assert state["deadline_at"] == w.clock() + w.settings.deadline_professional


def test_stack_defaults_from_settings_are_used(world, image_data):
    w = world(defaults={"prompt": "house style", "duration": 10})
    w.provider.submit_replies.append("task-1")
    w.submitter.process(upload(w, "uploads/cat.png", image_data()))
    [request] = w.provider.submitted
    assert (request.prompt, request.duration) == ("house style", 10)


# --- no money on a bad job ----------------------------------------------------------------------


def test_a_bad_image_never_calls_the_client_and_starts_the_failure_path(world, image_data):
    w = world()
    delivery = upload(w, "uploads/tiny.png", image_data(200, 200))
    assert w.submitter.process(delivery) == FAILED
    assert w.factory.made == 0 and w.provider.submitted == []
    jid = job_id(delivery)
    state = w.workflow.executions[f"job-{jid}"]
    assert state["poll"]["state"] == POLL_FAILED
    assert state["task"] is None
    assert state["error"]["code"] == "IMAGE_TOO_SMALL"
    assert state["error"]["stage"] == "validate" and state["error"]["retryable"] is False
    assert w.jobs.get(jid)["status"] == "FAILING"
    assert w.capacity.in_flight() == 0


def test_bad_parameters_fail_with_what_was_asked(world, image_data):
    w = world()
    delivery = upload(w, "uploads/cat.png", image_data(), {"duration": "7", "prompt": "p"})
    assert w.submitter.process(delivery) == FAILED
    state = next(iter(w.workflow.executions.values()))
    assert state["error"]["code"] == "INVALID_DURATION"
    assert state["job"]["request"]["duration"] == "7"
    assert w.factory.made == 0


def test_a_failed_job_redelivered_is_a_duplicate(world, image_data):
    w = world()
    delivery = upload(w, "uploads/tiny.png", image_data(200, 200))
    w.submitter.process(delivery)
    assert w.submitter.process(delivery) == DUPLICATE
    assert len(w.workflow.calls) == 1


# --- skipping -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rec",
    [
        record("uploads/cat.png", event="ObjectRemoved:Delete"),
        record("uploads/cat.png", event="ObjectRestore:Completed"),
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2026-01-01T00:00:00.000Z",
            "Bucket": "media",
        },
        record("outputs/cat.mp4"),
        record("outputs/cat.json"),
        record("uploads/_defaults.json"),
        record("uploads/_frames/end.png"),
        record("uploads/readme.txt"),
        record("uploads/folder/"),
        record("elsewhere/cat.png"),
    ],
)
def test_records_that_are_not_new_jobs_are_skipped(world, rec):
    w = world()
    assert w.submitter.process(Delivery(rec)) == SKIPPED
    assert w.jobs.items == {} and w.workflow.calls == [] and w.factory.made == 0


# --- backpressure -------------------------------------------------------------------------------


def test_at_capacity_the_job_goes_back_to_the_queue_with_a_delay(world, image_data):
    w = world(max_in_flight=1)
    w.capacity.acquire("someone-else", 600)
    delivery = upload(w, "uploads/cat.png", image_data())
    assert w.submitter.process(delivery) == DEFERRED
    [(body, delay, attempt, deferrals)] = w.send_later.calls
    assert body == {"Records": [delivery.record]}
    assert 60 <= delay <= 90  # the slot frees in 600 s; capacity caps its hint at 60 s, plus jitter
    assert (attempt, deferrals) == (1, 1)
    assert w.provider.submitted == [] and w.workflow.calls == []
    assert w.jobs.get(job_id(delivery))["status"] == "QUEUED"

    w.capacity.release("someone-else")
    w.provider.submit_replies.append("task-1")
    assert w.submitter.process(redeliver(w)) == STARTED
    assert len(w.provider.submitted) == 1


def test_deferral_delays_are_scaled_in_local_runs(world, image_data):
    w = world(max_in_flight=1, time_scale=10.0)
    w.capacity.acquire("someone-else", 600)
    w.submitter.process(upload(w, "uploads/cat.png", image_data()))
    assert 6 <= w.send_later.calls[0][1] <= 9


def test_a_429_defers_and_the_next_attempt_submits(world, image_data):
    w = world()
    w.provider.submit_replies += [ProviderRateLimited("RATE_LIMIT_EXCEEDED", "slow down", 429), "task-1"]
    delivery = upload(w, "uploads/cat.png", image_data())
    jid = job_id(delivery)
    assert w.submitter.process(delivery) == DEFERRED
    _body, delay, attempt, deferrals = w.send_later.calls[0]
    assert delay >= 1 and (attempt, deferrals) == (2, 0)
    assert w.capacity.holding(jid) is None  # nothing in flight while it waits
    assert "submit_started_at" not in w.jobs.get(jid)  # the provider created nothing
    assert w.workflow.calls == []

    assert w.submitter.process(redeliver(w)) == STARTED
    assert len(w.provider.submitted) == 2
    assert list(w.workflow.executions) == [f"job-{jid}"]


def test_5xx_defers_until_the_last_attempt_then_fails(world, image_data):
    w = world(submit_max_attempts=3)
    w.provider.submit_replies += [ProviderUnavailable("CREATE_TASK_FAILED", "busy", 500) for _ in range(3)]
    delivery = upload(w, "uploads/cat.png", image_data())
    assert w.submitter.process(delivery) == DEFERRED
    assert w.submitter.process(redeliver(w)) == DEFERRED
    delays = [call[1] for call in w.send_later.calls]
    assert [call[2] for call in w.send_later.calls] == [2, 3]
    assert delays[1] > delays[0]  # backing off
    assert w.submitter.process(redeliver(w)) == FAILED
    assert len(w.provider.submitted) == 3
    state = w.workflow.executions[f"job-{job_id(delivery)}"]
    assert state["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert state["error"]["stage"] == "submit" and state["error"]["retryable"] is True
    assert "3 times" in state["error"]["message"]
    assert w.capacity.in_flight() == 0


def test_connection_refused_is_retried_like_a_5xx(world, image_data):
    w = world()
    w.provider.submit_replies += [ProviderUnavailable("CONNECT_FAILED", "refused"), "task-1"]
    delivery = upload(w, "uploads/cat.png", image_data())
    assert w.submitter.process(delivery) == DEFERRED
    assert w.submitter.process(redeliver(w)) == STARTED


# --- never pay twice ----------------------------------------------------------------------------


def test_a_lost_reply_fails_the_job_and_a_redelivery_submits_nothing(world, image_data):
    w = world()
    w.provider.submit_replies.append(SubmitReplyLost("SUBMIT_OUTCOME_UNKNOWN", "read timeout; may be billed"))
    delivery = upload(w, "uploads/cat.png", image_data())
    assert w.submitter.process(delivery) == FAILED
    jid = job_id(delivery)
    state = w.workflow.executions[f"job-{jid}"]
    assert state["error"]["code"] == "SUBMIT_OUTCOME_UNKNOWN"
    assert state["error"]["stage"] == "submit"

    assert w.submitter.process(delivery) == DUPLICATE
    assert w.submitter.process(Delivery(delivery.record, attempt=2)) == DUPLICATE
    assert len(w.provider.submitted) == 1


def test_an_earlier_interrupted_attempt_is_not_resubmitted(world, image_data):
    w = world()
    delivery = upload(w, "uploads/cat.png", image_data())
    jid = job_id(delivery)
    w.jobs.update(jid, status="QUEUED", submit_started_at="2026-01-01T00:00:01.000Z")  # crashed after this
    assert w.submitter.process(Delivery(delivery.record, attempt=2)) == FAILED
    assert w.factory.made == 0 and w.provider.submitted == []
    state = w.workflow.executions[f"job-{jid}"]
    assert state["error"]["code"] == "SUBMIT_OUTCOME_UNKNOWN"
    assert "redrive" in state["error"]["message"]


# --- provider refusals --------------------------------------------------------------------------


def test_an_account_error_fails_the_job_and_frees_the_slot(world, image_data):
    w = world()
    w.provider.submit_replies.append(ProviderAccountError("BILLING_BALANCE_NOT_ENOUGH", "top up", 400))
    delivery = upload(w, "uploads/cat.png", image_data())
    assert w.submitter.process(delivery) == FAILED
    state = next(iter(w.workflow.executions.values()))
    assert state["error"]["code"] == "BILLING_BALANCE_NOT_ENOUGH"
    assert state["error"]["retryable"] is False
    assert w.capacity.in_flight() == 0


def test_a_rejected_job_fails_with_the_providers_reason(world, image_data):
    w = world()
    w.provider.submit_replies.append(ProviderRejected("ILLEGAL_PROMPT", "prompt refused", 400))
    delivery = upload(w, "uploads/cat.png", image_data())
    assert w.submitter.process(delivery) == FAILED
    state = next(iter(w.workflow.executions.values()))
    assert state["error"] == {
        "code": "ILLEGAL_PROMPT",
        "message": "prompt refused",
        "stage": "submit",
        "retryable": False,
    }
    assert w.capacity.in_flight() == 0


def test_a_provider_reason_that_is_not_upper_snake_still_gives_an_upper_snake_code(world, image_data):
    w = world()
    w.provider.submit_replies.append(ProviderRejected("invalid image url", "cannot fetch image", 400))
    w.submitter.process(upload(w, "uploads/cat.png", image_data()))
    state = next(iter(w.workflow.executions.values()))
    assert re.fullmatch(r"[A-Z][A-Z0-9_]*", state["error"]["code"])


def test_the_capacity_lease_outlives_the_deadline(world, image_data, clock):
    w = world()
    w.provider.submit_replies.append("task-1")
    delivery = upload(w, "uploads/cat.png", image_data())
    w.submitter.process(delivery)
    clock.advance(w.settings.deadline_standard + 1)  # the job is still being stored or reported
    assert w.capacity.holding(job_id(delivery)) is not None
