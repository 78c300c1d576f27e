"""The embedded local cloud: moto's server on 127.0.0.1, provisioned from the same resource description
as the CDK stack, with the real handlers run in-process.

S3 (uploads) -> SQS (with DLQ) -> intake -> backlog -> dispatch (woken by its queue and a schedule);
Step Functions runs the same ASL file as AWS and invokes the status and store handlers; SNS fans
notifications out to a queue the command line reads, and EventBridge (the same documents as events)
routes them through a rule to another. Started and stopped by the command that needs
it; nothing is left running.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

from i2v import constants as c
from i2v import runtime
from i2v.contracts.prices import price_table, to_json
from i2v_infra.resources import FUNCTIONS, LOCAL_BUCKET, Environment
from i2v_local.event_sources import QueuePoller, Schedule
from i2v_local.iam import (
    LocalIam,
    LocalNames,
    RolePolicies,
    denied_log_from_environment,
    policies_from_environment,
)
from i2v_local.lambda_runner import InProcessLambdas
from i2v_local.log_sink import LogSink
from i2v_local.moto_patches import patch_s3_events
from i2v_local.provision import Provisioned, provision

REGION = "us-east-1"
ACCOUNT = "123456789012"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


@dataclass
class CloudConfig:
    bucket: str = LOCAL_BUCKET
    uploads_prefix: str = c.DEFAULT_UPLOADS_PREFIX
    outputs_prefix: str = c.DEFAULT_OUTPUTS_PREFIX
    provider_url: str = c.DEFAULT_PROVIDER_URL
    time_scale: float = 1.0
    max_in_flight: int = c.DEFAULT_MAX_IN_FLIGHT
    submits_per_minute: int = c.DEFAULT_SUBMITS_PER_MINUTE
    defaults: dict[str, Any] = field(default_factory=dict)
    duplicate_delivery: float = 0.0  # probability that each upload event is delivered twice
    visibility_timeout: int | None = None  # None: the description's (6x the function timeout), real seconds
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    # The functions' roles as synthesized (i2v_local.iam.RolePolicies): each function then calls AWS as a
    # role holding exactly its template statements, and moto refuses anything else. None: no IAM checks.
    # Both default to the files named by I2V_LOCAL_IAM_POLICIES / I2V_LOCAL_IAM_DENIED_LOG, if set.
    iam_policies: RolePolicies | None = field(default_factory=policies_from_environment)
    iam_denied_log: Path | None = field(default_factory=denied_log_from_environment)  # refusals, as JSON lines
    port: int = 0  # 0: any free port
    function_timeouts: dict[str, float] = field(default_factory=dict)  # e.g. {"dispatch": 3.0}
    versioned: bool = True  # False: a bucket without versioning (jobs pin the ETag instead)
    trigger: str = c.DEFAULT_TRIGGER
    image_grace_seconds: int = c.DEFAULT_IMAGE_GRACE_SECONDS  # provider seconds (divided by time_scale)
    event_bus: str = c.DEFAULT_EVENT_BUS  # the EventBridge bus the store function puts its events on
    # Spend budgets (issue 13 item 2), as the stack's knobs: dollars per UTC day / month (None: no limit),
    # what an over-budget job does (wait | fail), and prices over the defaults ({"Standard": {"5": 0.13}}).
    budget_daily_usd: float | None = None
    budget_monthly_usd: float | None = None
    budget_action: str = c.BUDGET_WAIT
    prices: dict[str, Any] = field(default_factory=dict)


class LocalCloud:
    def __init__(self, config: CloudConfig | None = None) -> None:
        self.config = config or CloudConfig()
        self.lambdas = InProcessLambdas()
        self._server: Any = None
        self._undo: list[Callable[[], None]] = []
        self._saved_env: dict[str, str | None] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._logs = LogSink(self.config.log_path)
        self.endpoint = ""
        self.resources: Provisioned | None = None
        self.uploads_poller: QueuePoller | None = None
        self.iam: LocalIam | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.config.port, verbose=False)
        self._server.start()
        _host, port = self._server.get_host_and_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self._set_env({"AWS_ENDPOINT_URL": self.endpoint, "MOTO_PORT": str(port), **LOCAL_CREDENTIALS,
                       "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"})
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10)
        self._undo += [self.lambdas.patch_moto(), patch_s3_events()]
        cfg = self.config
        self.resources = provision(self.client, self.lambdas, bucket=cfg.bucket, uploads_prefix=cfg.uploads_prefix,
                                   visibility_timeout=cfg.visibility_timeout, function_timeouts=cfg.function_timeouts,
                                   versioned=cfg.versioned, event_bus=cfg.event_bus)
        self._set_env(self.environment())
        os.environ.pop(c.ENV_API_KEY_SECRET, None)
        if cfg.iam_policies is not None:
            self._start_iam(cfg.iam_policies)
        self._logs.open()
        runtime.reset()
        self._start_event_sources()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        if self._server:
            self._server.stop()
        self._logs.close()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        runtime.reset()

    def _start_iam(self, roles: RolePolicies) -> None:
        """One role per function with its template statements, enforced from here on (i2v_local.iam). The
        API key moves into a secret, as in AWS, so dispatch and status read it with their roles."""
        made, cfg = self.resources, self.config
        assert made is not None
        self.iam = LocalIam(roles, cfg.iam_denied_log)
        key = os.environ.get(c.ENV_API_KEY, "").strip()
        secret = self.iam.create_secret(self.client, key or "no-key-set")
        self.iam.start(self.client, LocalNames(
            tables=made.tables, queue_arns=made.queue_arns, bucket=made.bucket, topic_arn=made.topic_arn,
            state_machine_arn=made.state_machine_arn, secret_arn=secret, uploads_prefix=cfg.uploads_prefix,
            outputs_prefix=cfg.outputs_prefix, event_bus=made.event_bus))
        self._undo.append(self.iam.stop)
        if key:
            self._set_env({c.ENV_API_KEY_SECRET: secret})

    def _set_env(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = str(value)

    def environment(self) -> dict[str, str]:
        """The union of the functions' environments (they share one process), as the stack would set them."""
        made, cfg = self.resources, self.config
        assert made is not None
        values = Environment({
            c.ENV_BUCKET: cfg.bucket, c.ENV_UPLOADS_PREFIX: cfg.uploads_prefix, c.ENV_OUTPUTS_PREFIX: cfg.outputs_prefix,
            c.ENV_TOPIC_ARN: made.topic_arn, c.ENV_STATE_MACHINE_ARN: made.state_machine_arn,
            c.ENV_WAKE_QUEUE_URL: made.queue_urls["wake"], c.ENV_UPLOADS_QUEUE_URL: made.queue_urls["uploads"],
            **{spec_env: made.tables[name] for name, spec_env in _table_env().items()},
            c.ENV_PROVIDER_URL: cfg.provider_url, c.ENV_DEFAULTS: json.dumps(cfg.defaults),
            c.ENV_MAX_IN_FLIGHT: str(cfg.max_in_flight), c.ENV_SUBMITS_PER_MINUTE: str(cfg.submits_per_minute),
            c.ENV_DEADLINE_STANDARD: str(c.DEFAULT_DEADLINE_STANDARD),
            c.ENV_DEADLINE_PROFESSIONAL: str(c.DEFAULT_DEADLINE_PROFESSIONAL),
            c.ENV_URL_POLICY: c.URL_POLICY_LOOPBACK_HTTP, c.ENV_MAX_VIDEO_BYTES: str(c.DEFAULT_MAX_VIDEO_BYTES),
            c.ENV_TRIGGER: cfg.trigger, c.ENV_IMAGE_GRACE: str(cfg.image_grace_seconds),
            c.ENV_PRICES: json.dumps(to_json(price_table(cfg.prices))), c.ENV_BUDGET_ACTION: cfg.budget_action,
            **({c.ENV_BUDGET_DAILY: str(cfg.budget_daily_usd)} if cfg.budget_daily_usd is not None else {}),
            **({c.ENV_BUDGET_MONTHLY: str(cfg.budget_monthly_usd)} if cfg.budget_monthly_usd is not None else {}),
            c.ENV_SUBMIT_MAX_ATTEMPTS: str(c.DEFAULT_SUBMIT_MAX_ATTEMPTS),
            c.ENV_IMAGE_URL_TTL: str(c.DEFAULT_IMAGE_URL_TTL), c.ENV_DOWNLOAD_URL_TTL: str(c.DEFAULT_DOWNLOAD_URL_TTL),
            c.ENV_JOB_RETENTION_DAYS: str(c.DEFAULT_JOB_RETENTION_DAYS), c.ENV_EVENT_BUS: made.event_bus,
            c.ENV_POWERTOOLS_SERVICE: c.SERVICE_NAME, c.ENV_POWERTOOLS_NAMESPACE: c.METRICS_NAMESPACE,
        })
        union: dict[str, str] = {}
        for name in FUNCTIONS:
            union.update(values.for_function(name))
        return {**union, c.ENV_TIME_SCALE: str(cfg.time_scale), "POWERTOOLS_TRACE_DISABLED": "true",
                **cfg.extra_env}

    def function_environment(self, name: str) -> dict[str, str]:
        """What one function is given (for comparing with the synthesized template)."""
        env = self.environment()
        return {k: env[k] for k in c.FUNCTION_ENV[name] if k in env}

    def _start_event_sources(self) -> None:
        made, cfg = self.resources, self.config
        assert made is not None
        rng = random.Random(cfg.seed)
        for spec in FUNCTIONS.values():
            if spec.trigger:
                queue = next(k for k, q in _queues().items() if q == spec.trigger.queue)
                poller = QueuePoller(self.client("sqs"), made.queue_urls[queue], spec.local_name, self.lambdas,
                                     self._stop, batch_size=spec.trigger.batch_size,
                                     duplicate_delivery=cfg.duplicate_delivery if queue == "uploads" else 0.0,
                                     rng=rng)
                if queue == "uploads":
                    self.uploads_poller = poller
                self._threads.append(poller)
            if spec.schedule_seconds:
                self._threads.append(Schedule(spec.local_name, spec.schedule_seconds / cfg.time_scale, self.lambdas,
                                              self._stop))
        for thread in self._threads:
            thread.start()

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    # -- what the command line and the tests read ---------------------------------------------
    @property
    def queue_url(self) -> str:
        assert self.resources
        return self.resources.queue_urls["uploads"]

    @property
    def dlq_url(self) -> str:
        assert self.resources
        return self.resources.queue_urls["uploads_dlq"]

    @property
    def tables(self) -> dict[str, str]:
        assert self.resources
        return self.resources.tables

    @property
    def state_machine_arn(self) -> str:
        assert self.resources
        return self.resources.state_machine_arn

    @property
    def delivered(self) -> int:
        return self.uploads_poller.delivered if self.uploads_poller else 0

    @property
    def duplicated(self) -> int:
        return self.uploads_poller.duplicated if self.uploads_poller else 0

    def drain_notifications(self, wait_seconds: int = 1) -> list[dict[str, Any]]:
        """Notifications published so far (each removed from the inbox once read)."""
        assert self.resources
        sqs = self.client("sqs")
        out = []
        while True:
            reply = sqs.receive_message(QueueUrl=self.resources.inbox_url, MaxNumberOfMessages=10,
                                        WaitTimeSeconds=wait_seconds, MessageAttributeNames=["All"])
            messages = reply.get("Messages", [])
            if not messages:
                return out
            for m in messages:
                envelope = json.loads(m["Body"])
                out.append({"notification": json.loads(envelope["Message"]),
                            "attributes": {k: v.get("Value") for k, v in
                                           (envelope.get("MessageAttributes") or {}).items()}})
            sqs.delete_message_batch(QueueUrl=self.resources.inbox_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
            wait_seconds = 0

    def drain_events(self, wait_seconds: int = 1) -> list[dict[str, Any]]:
        """EventBridge events the pipeline put so far, as the rule on ``source: i2v`` delivered them to the
        events inbox (``source``, ``detail-type``, ``detail``...; each removed once read)."""
        assert self.resources
        sqs = self.client("sqs")
        out = []
        while True:
            reply = sqs.receive_message(QueueUrl=self.resources.events_inbox_url, MaxNumberOfMessages=10,
                                        WaitTimeSeconds=wait_seconds)
            messages = reply.get("Messages", [])
            if not messages:
                return out
            out.extend(json.loads(m["Body"]) for m in messages)
            sqs.delete_message_batch(QueueUrl=self.resources.events_inbox_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
            wait_seconds = 0

    def queue_depths(self) -> dict[str, int]:
        sqs = self.client("sqs")
        out = {}
        for label, url in (("queue", self.queue_url), ("dlq", self.dlq_url)):
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            out[label] = int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
                attrs.get("ApproximateNumberOfMessagesNotVisible", 0)) + int(
                attrs.get("ApproximateNumberOfMessagesDelayed", 0))
        return out


def _table_env() -> dict[str, str]:
    from i2v_infra.resources import TABLES

    return {name: spec.env for name, spec in TABLES.items()}


def _queues() -> dict[str, str]:
    from i2v_infra.resources import QUEUES

    return {name: spec.construct_id for name, spec in QUEUES.items()}
