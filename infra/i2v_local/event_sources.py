"""What Lambda's event source mappings and EventBridge's schedule do in AWS, for the local cloud:
poll a queue and invoke the function with batches (deleting what succeeded, leaving what failed for
a later receive), and invoke a function on a schedule."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from i2v_local.lambda_runner import InProcessLambdas

REGION = "us-east-1"
ACCOUNT = "123456789012"
DUPLICATE_ATTRIBUTE = "i2v-local-duplicate-of"


class QueuePoller(threading.Thread):
    """One SQS -> Lambda event source mapping with partial batch failures."""

    def __init__(self, sqs: Any, queue_url: str, function: str, lambdas: InProcessLambdas, stop: threading.Event,
                 *, batch_size: int = 10, duplicate_delivery: float = 0.0, rng: random.Random | None = None) -> None:
        super().__init__(name=f"i2v-poller-{function}", daemon=True)
        self.sqs, self.queue_url, self.function = sqs, queue_url, function
        self.lambdas, self.halt, self.batch_size = lambdas, stop, batch_size
        self.duplicate_delivery = duplicate_delivery
        self.rng = rng or random.Random()
        self.delivered = 0
        self.duplicated = 0

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                reply = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size,
                                                 WaitTimeSeconds=1, AttributeNames=["All"],
                                                 MessageAttributeNames=["All"])
            except Exception:  # server stopping
                if self.halt.is_set():
                    return
                time.sleep(0.2)
                continue
            messages = reply.get("Messages", [])
            if messages:
                self._deliver(messages)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            if self._is_original(message) and self.rng.random() < self.duplicate_delivery:
                self.duplicated += 1  # S3 delivers at least once: the same event a second time
                self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=message["Body"], MessageAttributes={
                    DUPLICATE_ATTRIBUTE: {"DataType": "String", "StringValue": message["MessageId"]}})
        event = {"Records": [self._record(m) for m in messages]}
        payload, errored, _logs = self.lambdas.invoke(self.function, event)
        self.delivered += len(messages)
        if errored:
            failed = {m["MessageId"] for m in messages}
        else:
            failed = {f["itemIdentifier"] for f in (json.loads(payload) or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])])

    def _is_original(self, message: dict[str, Any]) -> bool:
        """A message as S3 sent it: not a copy we made, not an operator's redrive."""
        if not self.duplicate_delivery or message.get("MessageAttributes"):
            return False
        return int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1")) == 1

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {k: {"stringValue": v.get("StringValue"), "dataType": v.get("DataType")}
                      for k, v in (message.get("MessageAttributes") or {}).items()}
        name = self.queue_url.rsplit("/", 1)[-1]
        return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"], "attributes": message.get("Attributes", {}),
                "messageAttributes": attributes, "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
                "awsRegion": REGION}


class Schedule(threading.Thread):
    """An EventBridge rate rule: a scheduled event to the function every ``seconds``."""

    def __init__(self, function: str, seconds: float, lambdas: InProcessLambdas, stop: threading.Event,
                 on_tick: Callable[[], None] | None = None) -> None:
        super().__init__(name=f"i2v-schedule-{function}", daemon=True)
        self.function, self.seconds, self.lambdas, self.halt = function, seconds, lambdas, stop
        self.ticks = 0
        self.on_tick = on_tick

    def run(self) -> None:
        while not self.halt.wait(self.seconds):
            self.ticks += 1
            self.lambdas.invoke(self.function, {"source": "aws.events", "detail-type": "Scheduled Event",
                                                "detail": {}, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ")})
            if self.on_tick:
                self.on_tick()
