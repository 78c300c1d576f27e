"""Publish a notification to the SNS topic with its filterable message attributes."""

from __future__ import annotations

import json
from typing import Any

from i2v.aws.clients import client
from i2v.notification import message_attributes


class Notifier:
    def __init__(self, topic_arn: str) -> None:
        self.topic_arn = topic_arn
        self.sns = client("sns")

    def publish(self, notification: dict[str, Any]) -> str:
        reply = self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=f"i2v job {notification['status'].lower()}"[:100],
            Message=json.dumps(notification, ensure_ascii=False),
            MessageAttributes=message_attributes(notification),
        )
        return str(reply["MessageId"])
