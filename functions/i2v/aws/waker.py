"""Wake the dispatcher: a message on its queue, now or after a delay.

A finishing job wakes it at once (its slot is free), a parked job too (capacity may be free), and
it wakes itself when the rate window will next have room. A lost wake costs nothing but latency:
the one-minute schedule wakes it anyway.
"""

from __future__ import annotations

import json

from i2v.aws.clients import client

MAX_DELAY_SECONDS = 900  # SQS limit


class Waker:
    def __init__(self, queue_url: str) -> None:
        self.url = queue_url
        self.sqs = client("sqs")

    def wake(self, reason: str = "now") -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps({"wake": reason}))

    def wake_later(self, seconds: float, reason: str = "later") -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps({"wake": reason}),
                              DelaySeconds=max(0, min(MAX_DELAY_SECONDS, int(round(seconds)))))


class RowSender:
    """Put a batch file's chunks of rows back on the intake's own queue."""

    def __init__(self, queue_url: str) -> None:
        self.url = queue_url
        self.sqs = client("sqs")

    def send(self, message: dict[str, object]) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps(message))
