"""Workflow: the one ASL file, its placeholders filled with the function ARNs, logging and tracing."""

from __future__ import annotations

import json
import re

import pytest

from i2v_infra.constructs.workflow import ASL_PATH

pytestmark = pytest.mark.infra

STATE_NAMES = ("WaitBeforePolling", "CheckTaskStatus", "IsVideoReady", "StoreVideo", "NotifyFailure")


def _machine(synth):
    return synth.one("AWS::StepFunctions::StateMachine")


def test_standard_state_machine_from_the_asl_file(default_synth):
    _, machine = _machine(default_synth)
    props = machine["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    definition = props["DefinitionString"]
    assert isinstance(definition, str), "the ASL stays inline, not an S3 asset"
    assert json.loads(definition) == json.loads(ASL_PATH.read_text())
    for state in STATE_NAMES:
        assert f'"{state}"' in definition


def test_function_arns_are_substituted(default_synth):
    _, machine = _machine(default_synth)
    props = machine["Properties"]
    status, _ = default_synth.one("AWS::Lambda::Function", "FunctionsStatus")
    store, _ = default_synth.one("AWS::Lambda::Function", "FunctionsStore")
    assert props["DefinitionSubstitutions"] == {"StatusFunctionArn": {"Fn::GetAtt": [status, "Arn"]},
                                                "StoreFunctionArn": {"Fn::GetAtt": [store, "Arn"]}}
    placeholders = set(re.findall(r"\$\{(\w+)\}", props["DefinitionString"]))
    assert placeholders == set(props["DefinitionSubstitutions"])


def test_logging_and_tracing(default_synth):
    _, machine = _machine(default_synth)
    props = machine["Properties"]
    log_group, group = default_synth.one("AWS::Logs::LogGroup", "Workflow")
    assert props["LoggingConfiguration"]["Level"] == "ERROR"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert props["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": [log_group, "Arn"]}
    assert json.dumps(group["Properties"]["LogGroupName"]).startswith('{"Fn::Join": ["", ["/aws/vendedlogs/states/')
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_state_machine_may_invoke_exactly_the_two_functions(default_synth):
    _, policy = default_synth.one("AWS::IAM::Policy", "WorkflowStateMachineRole")
    invoke = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "lambda:InvokeFunction"]
    status, _ = default_synth.one("AWS::Lambda::Function", "FunctionsStatus")
    store, _ = default_synth.one("AWS::Lambda::Function", "FunctionsStore")
    assert len(invoke) == 1
    assert invoke[0]["Resource"] == [{"Fn::GetAtt": [status, "Arn"]}, {"Fn::GetAtt": [store, "Arn"]}]
