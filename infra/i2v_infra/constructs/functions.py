"""The pipeline's Lambda functions, built by one helper from their description (i2v_infra.resources).

Python 3.13 on arm64, active tracing, a log group per function with the stack's retention, and one
role per function that starts empty: the stack grants each function only what it uses. Each
function gets only the environment it reads.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from i2v import constants as c
from i2v_infra.nag import acknowledge, acknowledge_grant
from i2v_infra.resources import FUNCTIONS, Environment, FunctionSpec

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64


class PipelineFunctions(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, code: lambda_.Code, environment: Environment,
                 memory_mb: Mapping[str, int], log_retention: logs.RetentionDays,
                 removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self._code = code
        self._environment = environment
        self._log_retention = log_retention
        self._removal_policy = removal_policy
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.by_name: dict[str, lambda_.Function] = {
            spec.name: self._function(spec, memory_mb.get(spec.name, spec.memory_mb)) for spec in FUNCTIONS.values()}

    @property
    def all(self) -> dict[str, lambda_.Function]:
        return dict(self.by_name)

    @property
    def intake(self) -> lambda_.Function:
        return self.by_name[c.FN_INTAKE]

    @property
    def dispatch(self) -> lambda_.Function:
        return self.by_name[c.FN_DISPATCH]

    @property
    def status(self) -> lambda_.Function:
        return self.by_name[c.FN_STATUS]

    @property
    def store(self) -> lambda_.Function:
        return self.by_name[c.FN_STORE]

    def _function(self, spec: FunctionSpec, memory_mb: int) -> lambda_.Function:
        name = spec.construct_id
        log_group = logs.LogGroup(self, f"{name}Logs", retention=self._log_retention,
                                  removal_policy=self._removal_policy)
        role = iam.Role(self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"i2v {spec.name} function")
        # Instead of the AWSLambdaBasicExecutionRole managed policy: write to this log group only.
        log_group.grant_write(role)
        self.log_groups[spec.name] = log_group
        function = lambda_.Function(
            self, name,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=self._code,
            timeout=cdk.Duration.seconds(spec.timeout_seconds),
            memory_size=memory_mb,
            tracing=lambda_.Tracing.ACTIVE,
            environment=self._environment.for_function(spec.name),
            log_group=log_group,
            role=role,
            description=spec.description,
        )
        acknowledge_grant(role, "X-Ray's PutTraceSegments and PutTelemetryRecords (added for active tracing) "
                                "support no resource-level permissions.", finding="Resource::*")
        acknowledge(function, "L1",
                    "Python 3.13 is the runtime the bundle's wheels are built for (pip --python-version "
                    "3.13); moving to a newer runtime is a deliberate change of the bundling and the tests "
                    "together.")
        return function
