"""The three Lambda functions, built by one helper with the settings they share.

Python 3.13 on arm64, active tracing, a log group per function with the stack's retention, and one
role per function that starts empty: the stack grants each function only what it uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from i2v_infra.nag import acknowledge

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64


@dataclass(frozen=True)
class FunctionSpec:
    handler: str
    timeout: cdk.Duration
    description: str


SUBMIT = FunctionSpec("i2v.handlers.submit.handler", cdk.Duration.seconds(60),
                      "i2v: validates a job, submits it to the provider once, starts its workflow")
STATUS = FunctionSpec("i2v.handlers.status.handler", cdk.Duration.seconds(30),
                      "i2v: asks the provider how a task is doing and chooses the next wait")
STORE = FunctionSpec("i2v.handlers.store.handler", cdk.Duration.seconds(300),
                     "i2v: copies the video to S3, writes the manifest, publishes the notification")


class PipelineFunctions(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, code: lambda_.Code,
                 environment: Mapping[str, str], memory_mb: Mapping[str, int],
                 log_retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self._code = code
        self._environment = dict(environment)
        self._log_retention = log_retention
        self._removal_policy = removal_policy
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.submit = self._function("Submit", SUBMIT, memory_mb["submit"])
        self.status = self._function("Status", STATUS, memory_mb["status"])
        self.store = self._function("Store", STORE, memory_mb["store"])

    @property
    def all(self) -> dict[str, lambda_.Function]:
        return {"submit": self.submit, "status": self.status, "store": self.store}

    def _function(self, name: str, spec: FunctionSpec, memory_mb: int) -> lambda_.Function:
        log_group = logs.LogGroup(self, f"{name}Logs", retention=self._log_retention,
                                  removal_policy=self._removal_policy)
        role = iam.Role(self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"i2v {name.lower()} function")
        # Instead of the AWSLambdaBasicExecutionRole managed policy: write to this log group only.
        log_group.grant_write(role)
        self.log_groups[name.lower()] = log_group
        function = lambda_.Function(
            self, name,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=self._code,
            timeout=spec.timeout,
            memory_size=memory_mb,
            tracing=lambda_.Tracing.ACTIVE,
            environment=self._environment,
            log_group=log_group,
            role=role,
            description=spec.description,
        )
        acknowledge(role, "IAM5",
                    "X-Ray's PutTraceSegments and PutTelemetryRecords (added for active tracing) "
                    "support no resource-level permissions.", finding="Resource::*")
        acknowledge(function, "L1",
                    "Python 3.13 is the runtime the bundle's wheels are built for (pip --python-version "
                    "3.13) and that DESIGN.md fixes; moving to a newer runtime is a deliberate change "
                    "of the bundling and the tests together.")
        return function
