"""Time limits that add up, read from the synthesized template (issue 11, finding 3).

An inner call must always end before its caller gives up on it: the provider's HTTP call inside the
function, the function inside the queue's visibility timeout, the function inside the workflow's Task.
Each relation is checked on every place it applies, so a new trigger or Task is checked too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import Synth

from i2v import constants as c
from i2v_infra.config import MAX_DEADLINE_SECONDS

pytestmark = pytest.mark.infra

CLIENT_TIMEOUT = "Lambda.ClientExecutionTimeoutException"


def _function_timeout(synth: Synth, logical: str) -> int:
    return int(synth.cfn["Resources"][logical]["Properties"]["Timeout"])


def _tasks(synth: Synth) -> dict[str, tuple[dict[str, Any], str]]:
    """Task state name -> (state, logical id of the function it invokes), from the deployed definition."""
    _, machine = synth.one("AWS::StepFunctions::StateMachine")
    props = machine["Properties"]
    definition = json.loads(props["DefinitionString"])
    out = {}
    for name, state in definition["States"].items():
        if state["Type"] != "Task":
            continue
        placeholder = state["Parameters"]["FunctionName"]
        assert placeholder.startswith("${") and placeholder.endswith("}"), (name, placeholder)
        target = props["DefinitionSubstitutions"][placeholder[2:-1]]
        out[name] = (state, target["Fn::GetAtt"][0])
    return out


def test_every_queue_trigger_hides_a_message_for_six_function_timeouts(any_synth: Synth) -> None:
    """Lambda's guidance for SQS event sources: visibility timeout >= 6x the function timeout."""
    mappings = any_synth.resources("AWS::Lambda::EventSourceMapping")
    assert mappings
    for logical, mapping in mappings.items():
        props = mapping["Properties"]
        queue = any_synth.cfn["Resources"][props["EventSourceArn"]["Fn::GetAtt"][0]]
        assert queue["Type"] == "AWS::SQS::Queue", logical
        timeout = _function_timeout(any_synth, props["FunctionName"]["Ref"])
        assert queue["Properties"]["VisibilityTimeout"] >= c.VISIBILITY_TIMEOUT_FACTOR * timeout == 6 * timeout, logical


@pytest.mark.parametrize("name", [c.FN_STATUS, c.FN_DISPATCH])
def test_a_provider_call_ends_before_the_function_that_makes_it(default_synth: Synth, name: str) -> None:
    timeout = default_synth.function(name)["Timeout"]
    assert c.PROVIDER_CALL_SECONDS == c.HTTP_CONNECT_SECONDS + c.PROVIDER_READ_SECONDS
    assert c.PROVIDER_CALL_SECONDS < timeout
    if name == c.FN_STATUS:  # one poll and the table write after it
        assert c.PROVIDER_CALL_SECONDS + c.AWS_CALL_SECONDS < timeout
    else:  # the dispatcher stops taking a job when less than one job's budget is left
        assert c.PROVIDER_CALL_SECONDS < c.DISPATCH_JOB_BUDGET_SECONDS < timeout
        assert c.DISPATCH_CLAIM_SECONDS > timeout  # a live dispatcher's claim is never taken over


def test_intake_stops_taking_records_before_its_time_is_up(default_synth: Synth) -> None:
    assert c.AWS_CALL_SECONDS < c.INTAKE_RECORD_BUDGET_SECONDS < default_synth.function(c.FN_INTAKE)["Timeout"]


def test_every_task_outlasts_its_function_and_retries_a_client_timeout(any_synth: Synth) -> None:
    tasks = _tasks(any_synth)
    assert set(tasks) == {"CheckTaskStatus", "StoreVideo", "NotifyFailure"}
    for name, (state, function) in tasks.items():
        assert state["TimeoutSeconds"] > _function_timeout(any_synth, function), name
        retried = [r["ErrorEquals"] for r in state["Retry"]]
        # States.ALL must stand alone in its list; it covers the client timeout too.
        assert any(CLIENT_TIMEOUT in errors or errors == ["States.ALL"] for errors in retried), name
        assert any("States.Timeout" in errors or errors == ["States.ALL"] for errors in retried), name


def test_tasks_invoke_the_status_and_store_functions(default_synth: Synth) -> None:
    targets = {name: function for name, (_, function) in _tasks(default_synth).items()}
    assert targets == {"CheckTaskStatus": default_synth.function_id(c.FN_STATUS),
                       "StoreVideo": default_synth.function_id(c.FN_STORE),
                       "NotifyFailure": default_synth.function_id(c.FN_STORE)}


def test_the_workflow_outlasts_the_longest_deadline_plus_storing_and_notifying(default_synth: Synth) -> None:
    tasks = _tasks(default_synth)
    definition = json.loads(default_synth.one("AWS::StepFunctions::StateMachine")[1]["Properties"]["DefinitionString"])
    after_deadline = (tasks["CheckTaskStatus"][0]["TimeoutSeconds"] + tasks["StoreVideo"][0]["TimeoutSeconds"]
                      + tasks["NotifyFailure"][0]["TimeoutSeconds"])
    assert MAX_DEADLINE_SECONDS + after_deadline < definition["TimeoutSeconds"]
