"""Put a message back on the submit queue with a delay (backpressure, transient provider errors).

Re-sending (instead of failing the message) keeps the receive count low, so waiting for capacity
never pushes a healthy upload towards the dead-letter queue.
"""

from __future__ import annotations

import json

from i2v.aws.clients import client

MAX_DELAY_SECONDS = 900  # SQS limit
ATTEMPT_ATTRIBUTE = "i2v-attempt"
DEFERRAL_ATTRIBUTE = "i2v-deferrals"
REDRIVE_ATTRIBUTE = "i2v-redrive"  # set by `i2v jobs retry`: a deliberate, new attempt


class SubmitQueue:
    def __init__(self, queue_url: str) -> None:
        self.url = queue_url
        self.sqs = client("sqs")

    def send_later(self, body: dict, delay_seconds: int, attempt: int, deferrals: int, redrive: int = 0) -> None:
        self.sqs.send_message(
            QueueUrl=self.url, MessageBody=json.dumps(body),
            DelaySeconds=max(0, min(MAX_DELAY_SECONDS, int(delay_seconds))),
            MessageAttributes=message_attributes(attempt, deferrals, redrive),
        )


def message_attributes(attempt: int = 1, deferrals: int = 0, redrive: int = 0) -> dict:
    return {
        ATTEMPT_ATTRIBUTE: {"DataType": "Number", "StringValue": str(attempt)},
        DEFERRAL_ATTRIBUTE: {"DataType": "Number", "StringValue": str(deferrals)},
        REDRIVE_ATTRIBUTE: {"DataType": "Number", "StringValue": str(redrive)},
    }
