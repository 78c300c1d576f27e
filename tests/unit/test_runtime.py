"""The runtime's wiring, where it holds a guarantee itself: Powertools idempotency around a submission,
run for real (DynamoDB persistence on moto's in-process AWS)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from i2v import constants as c
from i2v import runtime
from i2v.errors import SubmissionInProgress
from i2v_local.lambda_runner import FakeContext
from i2v_local.provision import create_tables

REGION = "us-east-1"


@pytest.fixture
def once(monkeypatch):
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION,
           "AWS_REGION": REGION, c.ENV_BUCKET: "media", c.ENV_JOBS_TABLE: "i2v-jobs", c.ENV_CONTROL_TABLE: "i2v-control",
           c.ENV_IDEMPOTENCY_TABLE: "i2v-idempotency", c.ENV_STATE_MACHINE_ARN: "arn:aws:states:us-east-1:1:stateMachine:m",
           c.ENV_WAKE_QUEUE_URL: "https://sqs/wake"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    runtime.reset()
    with mock_aws():
        create_tables(boto3.client("dynamodb", region_name=REGION))
        config, _layer = runtime.idempotency()
        config.register_lambda_context(FakeContext("i2v-dispatch", timeout_seconds=120))  # as the handler does
        yield runtime._idempotent_once()
    runtime.reset()


class Crash(BaseException):
    """A killed invocation: no clean-up runs."""


def test_a_completed_submission_is_replayed_not_repeated(once):
    calls = []

    def submit(payload):
        calls.append(payload["job_id"])
        return {"task_id": "t-1"}

    payload = {"job_id": "j1", "redrive": 0, "job": {}}
    assert once(submit, payload) == {"task_id": "t-1"}
    assert once(submit, payload) == {"task_id": "t-1"}
    assert calls == ["j1"]
    assert once(submit, {**payload, "redrive": 1}) == {"task_id": "t-1"}  # an operator's retry runs again
    assert calls == ["j1", "j1"]


def test_a_failed_attempt_is_forgotten_so_the_next_one_runs(once):
    calls = []

    def flaky(payload):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("provider 5xx")
        return {"task_id": "t-2"}

    payload = {"job_id": "j2", "redrive": 0, "job": {}}
    with pytest.raises(RuntimeError):
        once(flaky, payload)
    assert once(flaky, payload) == {"task_id": "t-2"} and len(calls) == 2


def test_a_crash_mid_submission_leaves_it_in_progress(once):
    def crash(payload):
        raise Crash("killed after the provider replied")

    payload = {"job_id": "j3", "redrive": 0, "job": {}}
    with pytest.raises(Crash):
        once(crash, payload)
    with pytest.raises(SubmissionInProgress):
        once(lambda p: {"task_id": "never"}, payload)


def test_reset_forgets_every_cached_factory():
    """A factory runtime caches and reset leaves alone would carry one run's queue or table into the next."""
    import functools

    from i2v import runtime

    cached = {name for name, value in vars(runtime).items()
              if isinstance(value, functools._lru_cache_wrapper) and value.__module__ == runtime.__name__}
    assert cached and cached == {f.__name__ for f in runtime._FACTORIES}
