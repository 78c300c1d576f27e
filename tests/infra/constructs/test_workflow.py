"""Workflow: the one ASL file, its placeholders filled with the function ARNs and the partition, logging
and tracing."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from infra_synth import Synth

from i2v import constants as c
from i2v_infra.workflow_definition import ASL_PATH, substitute

pytestmark = pytest.mark.infra

STATE_NAMES = ("WasJobAccepted", "WaitBeforePolling", "CheckTaskStatus", "IsVideoReady", "StoreVideo",
               "NotifyFailure")
ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):states:::lambda:invoke$")


def _machine(synth: Synth) -> dict[str, Any]:
    return dict(synth.resource("Workflow", "StateMachine")["Properties"])


def test_standard_state_machine_from_the_asl_file(default_synth: Synth) -> None:
    props = _machine(default_synth)
    assert props["StateMachineType"] == "STANDARD"
    definition = props["DefinitionString"]
    assert isinstance(definition, str), "the ASL stays inline, not an S3 asset"
    assert json.loads(definition) == json.loads(ASL_PATH.read_text())
    for state in STATE_NAMES:
        assert f'"{state}"' in definition


def test_function_arns_and_the_partition_are_substituted(default_synth: Synth) -> None:
    props = _machine(default_synth)
    status, store = (default_synth.function_id(n) for n in (c.FN_STATUS, c.FN_STORE))
    assert props["DefinitionSubstitutions"] == {"StatusFunctionArn": {"Fn::GetAtt": [status, "Arn"]},
                                                "StoreFunctionArn": {"Fn::GetAtt": [store, "Arn"]},
                                                "Partition": {"Ref": "AWS::Partition"}}
    placeholders = set(re.findall(r"\$\{(\w+)\}", props["DefinitionString"]))
    assert placeholders == set(props["DefinitionSubstitutions"])


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_every_service_arn_names_the_partition_it_is_deployed_in(partition: str) -> None:
    """No `arn:aws:` is written into the ASL: in China or GovCloud the integration ARN differs."""
    raw = ASL_PATH.read_text()
    assert "arn:aws:" not in raw
    definition = json.loads(substitute(raw, {"StatusFunctionArn": "s", "StoreFunctionArn": "t",
                                             "Partition": partition}))
    tasks = [s for s in definition["States"].values() if s["Type"] == "Task"]
    assert tasks
    for task in tasks:
        assert ARN.match(task["Resource"]) and task["Resource"].startswith(f"arn:{partition}:"), task["Resource"]


def test_logging_and_tracing(default_synth: Synth) -> None:
    props = _machine(default_synth)
    log_group = default_synth.logical("Workflow", "Logs")
    group = default_synth.cfn["Resources"][log_group]
    assert props["LoggingConfiguration"]["Level"] == "ERROR"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert props["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": [log_group, "Arn"]}
    assert json.dumps(group["Properties"]["LogGroupName"]).startswith('{"Fn::Join": ["", ["/aws/vendedlogs/states/')
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_state_machine_may_invoke_exactly_the_two_functions(default_synth: Synth) -> None:
    policy = default_synth.resource("Workflow", "StateMachine", "Role", "DefaultPolicy")
    invoke = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "lambda:InvokeFunction"]
    status, store = (default_synth.function_id(n) for n in (c.FN_STATUS, c.FN_STORE))
    assert len(invoke) == 1
    assert invoke[0]["Resource"] == [{"Fn::GetAtt": [status, "Arn"]}, {"Fn::GetAtt": [store, "Arn"]}]
