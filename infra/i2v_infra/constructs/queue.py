"""The queues: upload events wait here for the intake function (nothing is dropped: after five failed
deliveries a message moves to the dead-letter queue, kept 14 days and alarmed), and wake-ups wait
here for the dispatcher. Shapes come from i2v_infra.resources."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from i2v_infra.nag import acknowledge
from i2v_infra.resources import QUEUES, EventSourceSpec, QueueSpec


class JobQueue(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.by_id: dict[str, sqs.Queue] = {}
        for spec in QUEUES.values():
            self.by_id[spec.construct_id] = self._queue(spec)
        self.queue = self.by_id[QUEUES["uploads"].construct_id]
        self.dead_letters = self.by_id[QUEUES["uploads_dlq"].construct_id]
        self.wake = self.by_id[QUEUES["wake"].construct_id]
        acknowledge(self.wake, "SQS3",
                    "Wake-up messages of the dispatcher carry no data; a lost one only delays a start until "
                    "the one-minute schedule wakes the dispatcher anyway, so there is nothing to dead-letter.")

    def _queue(self, spec: QueueSpec) -> sqs.Queue:
        dead_letter = None
        if spec.dead_letter:
            assert spec.max_receive_count, f"{spec.construct_id}: a dead-letter queue needs a receive count"
            dead_letter = sqs.DeadLetterQueue(queue=self.by_id[spec.dead_letter], max_receive_count=spec.max_receive_count)
        return sqs.Queue(
            self, spec.construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,  # S3 can send to it without a key policy
            enforce_ssl=True,
            visibility_timeout=cdk.Duration.seconds(spec.visibility_timeout),
            retention_period=cdk.Duration.days(spec.retention_days),
            dead_letter_queue=dead_letter,
        )

    def event_source(self, spec: EventSourceSpec) -> sources.SqsEventSource:
        """How a function reads its queue: batches, partial failures, a bounded number of pollers."""
        return sources.SqsEventSource(
            self.by_id[spec.queue], batch_size=spec.batch_size, report_batch_item_failures=True,
            max_concurrency=spec.max_concurrency,
            max_batching_window=cdk.Duration.seconds(spec.batching_window_seconds) if spec.batching_window_seconds
            else None)

    def grant_requeue_rows(self, grantee: iam.IGrantable) -> None:
        """Put a batch file's rows back on the upload queue, in chunks: sqs:SendMessage on that queue only."""
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["sqs:SendMessage"], resources=[self.queue.queue_arn]))

    def grant_wake(self, grantee: iam.IGrantable) -> None:
        """Send a wake-up to the dispatcher: sqs:SendMessage by the queue's URL, nothing else (the queue is
        SQS-managed encrypted, so no key permission)."""
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["sqs:SendMessage"], resources=[self.wake.queue_arn]))
