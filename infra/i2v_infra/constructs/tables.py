"""DynamoDB tables: job records, Powertools idempotency records, and the submit rate/capacity control.

All on-demand, point-in-time recoverable and encrypted with the AWS managed key.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct


class Tables(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        # One record per job (job_id derived from bucket, key and version): state, task id, timings.
        self.jobs = self._table("Jobs", "job_id")
        # aws_lambda_powertools.utilities.idempotency.DynamoDBPersistenceLayer's default layout.
        self.idempotency = self._table("Idempotency", "id", ttl="expiration")
        # In-flight slots and per-minute submit tokens; stale entries expire by themselves.
        self.control = self._table("Control", "pk", ttl="expires_at")
        for table in (self.jobs, self.idempotency, self.control):
            table.apply_removal_policy(removal_policy)

    def _table(self, construct_id: str, partition_key: str, ttl: str | None = None) -> dynamodb.Table:
        return dynamodb.Table(
            self, construct_id,
            partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute=ttl,
        )

    @staticmethod
    def grant_read_write(grantee: iam.IGrantable, *tables: dynamodb.ITable) -> None:
        for table in tables:
            table.grant_read_write_data(grantee)
