"""The buffer between S3 and the submit function: uploads wait here until the provider has room.

Nothing is dropped: a message the submit function fails on five times moves to the dead-letter queue,
which keeps it for 14 days and raises an alarm.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

MAX_RECEIVE_COUNT = 5
# Lambda's guidance for SQS event sources: visibility timeout at least six times the function timeout.
VISIBILITY_TIMEOUT_FACTOR = 6


class JobQueue(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, consumer_timeout: cdk.Duration) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = sqs.Queue(
            self, "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        self.queue = sqs.Queue(
            self, "Uploads",
            encryption=sqs.QueueEncryption.SQS_MANAGED,  # S3 can send to it without a key policy
            enforce_ssl=True,
            visibility_timeout=cdk.Duration.seconds(consumer_timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR),
            # Shorter than the DLQ's: a message keeps its first enqueue time when it is moved there.
            retention_period=cdk.Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=MAX_RECEIVE_COUNT),
        )

    def event_source(self) -> sources.SqsEventSource:
        """How the submit function reads the queue: batches, partial failures, at most two pollers.

        Two concurrent invocations are plenty for ~20 submissions a minute and keep the backlog in
        the queue instead of in throttled invocations.
        """
        return sources.SqsEventSource(self.queue, batch_size=10, report_batch_item_failures=True,
                                      max_concurrency=2)

    def grant_send(self, grantee: iam.IGrantable) -> None:
        """The submit function puts deferred jobs back on its own queue with a delay."""
        self.queue.grant_send_messages(grantee)
