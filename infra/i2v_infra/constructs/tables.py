"""DynamoDB tables: job records (with the backlog's index), Powertools idempotency records, and the
capacity control (slots, rate tokens, the backlog counter). Shapes come from i2v_infra.resources.

All on-demand, point-in-time recoverable and encrypted with the AWS managed key.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from i2v_infra.resources import TABLES, TableSpec


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Tables(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.by_name = {name: self._table(spec, removal_policy) for name, spec in TABLES.items()}
        self.jobs = self.by_name["jobs"]
        self.idempotency = self.by_name["idempotency"]
        self.control = self.by_name["control"]

    def _table(self, spec: TableSpec, removal_policy: cdk.RemovalPolicy) -> dynamodb.Table:
        table = dynamodb.Table(
            self, spec.construct_id,
            partition_key=_string(spec.partition_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute=spec.ttl_attribute,
            removal_policy=removal_policy,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name, partition_key=_string(index.partition_key), sort_key=_string(index.sort_key),
                projection_type=dynamodb.ProjectionType.INCLUDE, non_key_attributes=list(index.projected))
        return table

    @staticmethod
    def grant(grantee: iam.IGrantable, table: dynamodb.ITable, *actions: str, index: str | None = None) -> None:
        """Exactly ``actions`` (e.g. "GetItem") on ``table``, or on one of its indexes by name."""
        resource = f"{table.table_arn}/index/{index}" if index else table.table_arn
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=[f"dynamodb:{a}" for a in actions], resources=[resource]))
