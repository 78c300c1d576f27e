"""The embedded local cloud: moto's server on 127.0.0.1 wired like the CDK stack.

S3 (uploads) -> SQS (with DLQ) -> submit handler; Step Functions runs the same ASL file as AWS
and invokes the status and store handlers in-process; SNS fans notifications out to a queue the
command line reads. Started and stopped by the command that needs it; nothing is left running.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import random
import threading
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import requests

from i2v import constants as c
from i2v_local.lambda_runner import InProcessLambdas

REGION = "us-east-1"
ACCOUNT = "123456789012"
ASL_PATH = Path(__file__).resolve().parent.parent / "i2v_infra" / "workflow" / "pipeline.asl.json"
HANDLERS = {
    "submit": ("i2v-submit", "i2v.handlers.submit.handler", 60.0),
    "status": ("i2v-status", "i2v.handlers.status.handler", 30.0),
    "store": ("i2v-store", "i2v.handlers.store.handler", 300.0),
}
MAX_RECEIVE_COUNT = 5
DUPLICATE_ATTRIBUTE = "i2v-local-duplicate-of"
VISIBILITY_TIMEOUT = 30
_DISCARD = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - process-long sink for late log lines  # seconds; a failed batch item is seen again after this (scaled by the run)


@dataclass
class CloudConfig:
    bucket: str = "i2v-local"
    uploads_prefix: str = c.DEFAULT_UPLOADS_PREFIX
    outputs_prefix: str = c.DEFAULT_OUTPUTS_PREFIX
    provider_url: str = c.DEFAULT_PROVIDER_URL
    time_scale: float = 1.0
    max_in_flight: int = c.DEFAULT_MAX_IN_FLIGHT
    submits_per_minute: int = c.DEFAULT_SUBMITS_PER_MINUTE
    defaults: dict = field(default_factory=dict)
    duplicate_delivery: float = 0.0  # probability that each queue message is delivered twice
    visibility_timeout: int = VISIBILITY_TIMEOUT
    log_path: Path | None = None
    extra_env: dict = field(default_factory=dict)
    seed: int | None = None
    port: int = 0  # 0: any free port
    function_timeouts: dict = field(default_factory=dict)  # e.g. {"submit": 3.0}: shorter in-progress windows


class LocalCloud:
    def __init__(self, config: CloudConfig | None = None) -> None:
        self.config = config or CloudConfig()
        self.lambdas = InProcessLambdas()
        self._server = None
        self._undo_patch = None
        self._saved_env: dict[str, str | None] = {}
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._rng = random.Random(self.config.seed)
        self._log_stream = None
        self.endpoint = ""
        self.delivered = 0
        self.duplicated = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.config.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self._set_env({
            "AWS_ENDPOINT_URL": self.endpoint, "MOTO_PORT": str(port), "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local", "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
        })
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10)
        self._undo_patch = self.lambdas.patch_moto()
        self._provision()
        self._quiet_logs()
        self._reset_function_caches()
        self._poller = threading.Thread(target=self._poll_queue, name="i2v-sqs-poller", daemon=True)
        self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        if self._poller:
            self._poller.join(timeout=15)
        if self._undo_patch:
            self._undo_patch()
        if self._server:
            self._server.stop()
        if self._log_stream:
            # Workflow threads may still log after the server stops: point them at a sink that stays open.
            self._point_logs_at(_DISCARD)
            self._log_stream.close()
            self._log_stream = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._reset_function_caches()

    def _set_env(self, values: dict) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = str(value)

    def client(self, service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)

    # -- resources, as the CDK stack makes them -----------------------------------------------
    def _provision(self) -> None:
        cfg = self.config
        s3, sqs, sns, ddb, sfn, lam = (self.client(n) for n in ("s3", "sqs", "sns", "dynamodb", "stepfunctions",
                                                                 "lambda"))
        s3.create_bucket(Bucket=cfg.bucket)
        s3.put_bucket_versioning(Bucket=cfg.bucket, VersioningConfiguration={"Status": "Enabled"})
        self.dlq_url = sqs.create_queue(QueueName="i2v-uploads-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queue_url = sqs.create_queue(QueueName="i2v-uploads", Attributes={
            "VisibilityTimeout": str(cfg.visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}),
        })["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.put_bucket_notification_configuration(Bucket=cfg.bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"],
                                     "Filter": {"Key": {"FilterRules": [{"Name": "prefix",
                                                                          "Value": cfg.uploads_prefix}]}}}]})
        self.topic_arn = sns.create_topic(Name="i2v-notifications")["TopicArn"]
        self.notifications_url = sqs.create_queue(QueueName="i2v-notifications-inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=self.notifications_url,
                                             AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=inbox_arn)
        self.tables = {"jobs": "i2v-jobs", "idempotency": "i2v-idempotency", "control": "i2v-control"}
        for logical, name in self.tables.items():
            key = {"jobs": "job_id", "idempotency": "id", "control": "pk"}[logical]
            ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                             KeySchema=[{"AttributeName": key, "KeyType": "HASH"}])
        role = self.client("iam").create_role(RoleName="i2v-local", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
        zipped = io.BytesIO()
        with zipfile.ZipFile(zipped, "w") as zf:
            zf.writestr("handler.py", "# runs in-process, see i2v_local.lambda_runner\n")
        arns = {}
        for logical, (name, handler, timeout) in HANDLERS.items():
            timeout = float(cfg.function_timeouts.get(logical, timeout))
            arns[logical] = lam.create_function(FunctionName=name, Runtime="python3.13", Role=role, Handler=handler,
                                                Code={"ZipFile": zipped.getvalue()}, Timeout=int(timeout),
                                                Architectures=["arm64"])["FunctionArn"]
            self.lambdas.register(name, handler, timeout)
        definition = ASL_PATH.read_text().replace("${StatusFunctionArn}", arns["status"]).replace(
            "${StoreFunctionArn}", arns["store"])
        self.state_machine_arn = sfn.create_state_machine(name="i2v-pipeline", definition=definition,
                                                          roleArn=role)["stateMachineArn"]
        self._set_env({
            c.ENV_BUCKET: cfg.bucket, c.ENV_UPLOADS_PREFIX: cfg.uploads_prefix, c.ENV_OUTPUTS_PREFIX: cfg.outputs_prefix,
            c.ENV_TOPIC_ARN: self.topic_arn, c.ENV_STATE_MACHINE_ARN: self.state_machine_arn,
            c.ENV_QUEUE_URL: self.queue_url, c.ENV_JOBS_TABLE: self.tables["jobs"],
            c.ENV_IDEMPOTENCY_TABLE: self.tables["idempotency"], c.ENV_CONTROL_TABLE: self.tables["control"],
            c.ENV_PROVIDER_URL: cfg.provider_url, c.ENV_DEFAULTS: json.dumps(cfg.defaults),
            c.ENV_MAX_IN_FLIGHT: cfg.max_in_flight, c.ENV_SUBMITS_PER_MINUTE: cfg.submits_per_minute,
            c.ENV_TIME_SCALE: cfg.time_scale, c.ENV_URL_POLICY: c.URL_POLICY_LOOPBACK_HTTP,
            "POWERTOOLS_SERVICE_NAME": c.SERVICE_NAME, "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": c.METRICS_NAMESPACE,
            **cfg.extra_env,
        })
        os.environ.pop(c.ENV_API_KEY_SECRET, None)

    def _quiet_logs(self) -> None:
        """Lambda logs go to a file (or nowhere), never to the command line's stdout."""

        target = self.config.log_path
        if target:
            target.parent.mkdir(parents=True, exist_ok=True)
            stream = open(target, "a", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        else:
            stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        self._point_logs_at(stream)
        self._log_stream = stream

    @staticmethod
    def _point_logs_at(stream) -> None:
        from aws_lambda_powertools.metrics import base as single_metrics
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf import cloudwatch as emf

        from i2v.observability import logger

        for handler in logging.getLogger(logger.name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(stream)
        # Powertools prints metrics (EMF, and single metrics) with print(); send them to the same
        # place as the logs, never to the command line's stdout.
        for module in (emf, single_metrics):
            module.print = functools.partial(print, file=stream, flush=True)

    @staticmethod
    def _reset_function_caches() -> None:
        from i2v import runtime, settings
        from i2v.aws import clients

        settings.get_settings.cache_clear()
        clients.client.cache_clear()
        clients.resource.cache_clear()
        for factory in (runtime.provider_client, runtime.capacity, runtime.jobs_table, runtime.idempotency,
                        runtime.submitter, runtime.status_deps, runtime.store_deps):
            factory.cache_clear()

    # -- the SQS event source mapping, as Lambda's poller does it -----------------------------
    def _poll_queue(self) -> None:
        sqs = self.client("sqs")
        name = HANDLERS["submit"][0]
        while not self._stop.is_set():
            try:
                reply = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                            AttributeNames=["All"], MessageAttributeNames=["All"])
            except Exception:  # server stopping
                if self._stop.is_set():
                    return
                time.sleep(0.2)
                continue
            messages = reply.get("Messages", [])
            if not messages:
                continue
            for message in messages:
                if self._is_original(message) and self._rng.random() < self.config.duplicate_delivery:
                    self.duplicated += 1  # S3 delivers at least once: the same event a second time
                    sqs.send_message(QueueUrl=self.queue_url, MessageBody=message["Body"], MessageAttributes={
                        DUPLICATE_ATTRIBUTE: {"DataType": "String", "StringValue": message["MessageId"]}})
            event = {"Records": [self._sqs_record(m) for m in messages]}
            payload, errored, _logs = self.lambdas.invoke(name, event)
            self.delivered += len(messages)
            failed = set()
            if errored:
                failed = {m["MessageId"] for m in messages}
            else:
                failed = {f["itemIdentifier"] for f in (json.loads(payload) or {}).get("batchItemFailures", [])}
            done = [m for m in messages if m["MessageId"] not in failed]
            for start in range(0, len(done), 10):
                sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])])

    def _is_original(self, message: dict) -> bool:
        """A message as S3 sent it: not a copy we made, not one the submit function re-queued."""
        if not self.config.duplicate_delivery or message.get("MessageAttributes"):
            return False
        return int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1")) == 1

    def _sqs_record(self, message: dict) -> dict:
        attributes = {k: {"stringValue": v.get("StringValue"), "dataType": v.get("DataType")}
                      for k, v in (message.get("MessageAttributes") or {}).items()}
        return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"], "attributes": message.get("Attributes", {}),
                "messageAttributes": attributes, "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:i2v-uploads",
                "awsRegion": REGION}

    # -- what the command line and the tests read ---------------------------------------------
    def drain_notifications(self, wait_seconds: int = 1) -> list[dict]:
        """Notifications published so far (each removed from the inbox once read)."""
        sqs = self.client("sqs")
        out = []
        while True:
            reply = sqs.receive_message(QueueUrl=self.notifications_url, MaxNumberOfMessages=10,
                                        WaitTimeSeconds=wait_seconds, MessageAttributeNames=["All"])
            messages = reply.get("Messages", [])
            if not messages:
                return out
            for m in messages:
                envelope = json.loads(m["Body"])
                out.append({"notification": json.loads(envelope["Message"]),
                            "attributes": {k: v.get("Value") for k, v in
                                           (envelope.get("MessageAttributes") or {}).items()}})
            sqs.delete_message_batch(QueueUrl=self.notifications_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
            wait_seconds = 0

    def queue_depths(self) -> dict:
        sqs = self.client("sqs")
        out = {}
        for label, url in (("queue", self.queue_url), ("dlq", self.dlq_url)):
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            out[label] = int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
                attrs.get("ApproximateNumberOfMessagesNotVisible", 0)) + int(
                attrs.get("ApproximateNumberOfMessagesDelayed", 0))
        return out
