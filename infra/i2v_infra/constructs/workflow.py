"""The Step Functions Standard workflow, defined once in workflow/pipeline.asl.json.

The same file runs in the local cloud; here its `${StatusFunctionArn}` and `${StoreFunctionArn}`
placeholders become CloudFormation definition substitutions.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from i2v import constants as c
from i2v_infra.nag import acknowledge, acknowledge_grant, wildcard_resource
from i2v_infra.workflow_definition import ASL_PATH, placeholders, read_definition


class Workflow(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, state_machine_name: str,
                 status_function: lambda_.IFunction, store_function: lambda_.IFunction,
                 log_retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self._state_machine_name = state_machine_name
        definition = read_definition()
        substitutions = {
            "StatusFunctionArn": status_function.function_arn,
            "StoreFunctionArn": store_function.function_arn,
            "Partition": cdk.Aws.PARTITION,
        }
        missing = placeholders(definition) - set(substitutions)
        if missing:
            raise ValueError(f"{ASL_PATH.name} has placeholders the app does not fill: {sorted(missing)}")

        # Under /aws/vendedlogs/ so the Logs resource policy for log delivery stays small; the stack
        # id's UUID keeps the name free again after a delete that retained the old group.
        stack_uuid = cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))
        log_group = logs.LogGroup(self, "Logs",
                                  log_group_name=f"/aws/vendedlogs/states/{state_machine_name}-{stack_uuid}",
                                  retention=log_retention, removal_policy=removal_policy)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            state_machine_name=state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(definition),
            definition_substitutions=substitutions,
            # Errors only, without execution data: payloads carry prompts and presigned URLs, and the
            # execution history already keeps every step for 90 days.
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ERROR, include_execution_data=False),
            tracing_enabled=True,
        )
        # Exactly the two unqualified ARNs the definition invokes (no ':*' for versions or aliases).
        self.state_machine.add_to_role_policy(iam.PolicyStatement(
            actions=["lambda:InvokeFunction"],
            resources=[status_function.function_arn, store_function.function_arn]))
        acknowledge_grant(self.state_machine.role,
                          "CloudWatch Logs log delivery (logs:CreateLogDelivery, ...) and X-Ray "
                          "(xray:PutTraceSegments, ...) support no resource-level permissions; CDK adds them "
                          "for logging and tracing.", finding="Resource::*")
        acknowledge(self.state_machine, "SF1",
                    "Logs at level ERROR on purpose: ALL would log every poll of every job (dozens per "
                    "video); the execution history keeps the full trail.")

    def grant_start(self, grantee: iam.IGrantable) -> None:
        """states:StartExecution on this state machine only."""
        self.state_machine.grant_start_execution(grantee)

    def grant_describe_executions(self, grantee: iam.IGrantable) -> None:
        """states:DescribeExecution on this state machine's job executions (`job-<id>...`) only."""
        executions = cdk.Stack.of(self).format_arn(
            service="states", resource="execution", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            resource_name=f"{self._state_machine_name}:{c.EXECUTION_NAME_PREFIX}*")
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["states:DescribeExecution"], resources=[executions]))
        acknowledge_grant(grantee.grant_principal,
                          "Execution names are job ids, known only at run time: the dispatcher may describe "
                          "this state machine's job executions and no other.",
                          finding=wildcard_resource(self, executions))
