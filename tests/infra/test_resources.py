"""One description of the resources (i2v_infra.resources), and two things built from it that must agree.

The synthesized CDK template and a running embedded local cloud (moto on 127.0.0.1) are compared
with the description and with each other: table keys, the backlog index, time-to-live attributes,
queue redrive and visibility timeouts, function handlers, timeouts and memory, and the names of the
environment variables each function is given. A second, hand-copied stack in the local cloud would
fail here at the first fact it copied differently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from infra_synth import Synth

from i2v import constants as c
from i2v_infra.resources import FUNCTIONS, QUEUES, TABLES, FunctionSpec, QueueSpec, TableSpec
from i2v_infra.workflow_definition import substitute

# The local cloud's dispatch schedule may run a round with nothing to report while the tests read it.
pytestmark = [pytest.mark.infra, pytest.mark.filterwarnings("ignore:No application metrics")]


@pytest.fixture(scope="module")
def cloud() -> Iterator[Any]:
    from i2v_local.cloud import LocalCloud

    with LocalCloud() as running:
        yield running


# --- tables ----------------------------------------------------------------------------------------

def _key_schema(partition: str, sort: str | None = None) -> list[dict[str, str]]:
    keys = [{"AttributeName": partition, "KeyType": "HASH"}]
    return keys + ([{"AttributeName": sort, "KeyType": "RANGE"}] if sort else [])


def _indexes(spec: TableSpec) -> list[dict[str, Any]]:
    return [{"IndexName": i.name, "KeySchema": _key_schema(i.partition_key, i.sort_key),
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": sorted(i.projected)}}
            for i in spec.indexes]


def _sorted_projection(indexes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"IndexName": i["IndexName"], "KeySchema": i["KeySchema"],
             "Projection": {**i["Projection"], "NonKeyAttributes": sorted(i["Projection"].get("NonKeyAttributes", []))}}
            for i in indexes]


@pytest.mark.parametrize("name", TABLES)
def test_table_keys_index_and_ttl_agree(default_synth: Synth, cloud: Any, name: str) -> None:
    spec = TABLES[name]
    template = default_synth.resource("Tables", spec.construct_id)["Properties"]
    ddb = cloud.client("dynamodb")
    local = ddb.describe_table(TableName=cloud.tables[name])["Table"]
    local_ttl = ddb.describe_time_to_live(TableName=cloud.tables[name])["TimeToLiveDescription"]

    assert template["KeySchema"] == local["KeySchema"] == _key_schema(spec.partition_key)
    assert _sorted_projection(template.get("GlobalSecondaryIndexes", [])) == _indexes(spec)
    assert _sorted_projection(local.get("GlobalSecondaryIndexes", [])) == _indexes(spec)
    attributes = sorted({spec.partition_key} | {k for i in spec.indexes for k in (i.partition_key, i.sort_key)})
    assert sorted(a["AttributeName"] for a in template["AttributeDefinitions"]) == attributes
    assert sorted(a["AttributeName"] for a in local["AttributeDefinitions"]) == attributes
    assert template["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    assert (local_ttl["TimeToLiveStatus"], local_ttl["AttributeName"]) == ("ENABLED", spec.ttl_attribute)


def test_the_functions_read_the_keys_the_tables_have() -> None:
    assert TABLES["jobs"].partition_key == c.JOBS_TABLE_KEY
    assert TABLES["jobs"].ttl_attribute == c.JOBS_TTL_ATTRIBUTE
    assert [(i.name, i.partition_key, i.sort_key, i.projected) for i in TABLES["jobs"].indexes] == [
        (c.BACKLOG_INDEX, c.BACKLOG_LANE, c.BACKLOG_ORDER, c.BACKLOG_PROJECTED)]
    assert (TABLES["idempotency"].partition_key, TABLES["idempotency"].ttl_attribute) == (
        c.IDEMPOTENCY_TABLE_KEY, c.IDEMPOTENCY_TTL_ATTRIBUTE)
    assert (TABLES["control"].partition_key, TABLES["control"].ttl_attribute) == (
        c.CONTROL_TABLE_KEY, c.CONTROL_TTL_ATTRIBUTE)


# --- queues ----------------------------------------------------------------------------------------

def _consumer(spec: QueueSpec) -> FunctionSpec | None:
    return next((f for f in FUNCTIONS.values() if f.trigger and f.trigger.queue == spec.construct_id), None)


@pytest.mark.parametrize("name", QUEUES)
def test_queue_redrive_retention_and_visibility_agree(default_synth: Synth, cloud: Any, name: str) -> None:
    spec = QUEUES[name]
    template = default_synth.resource("Queue", spec.construct_id)["Properties"]
    local = cloud.client("sqs").get_queue_attributes(QueueUrl=cloud.resources.queue_urls[name],
                                                      AttributeNames=["All"])["Attributes"]

    assert template["VisibilityTimeout"] == int(local["VisibilityTimeout"]) == spec.visibility_timeout
    assert template["MessageRetentionPeriod"] == int(local["MessageRetentionPeriod"]) == spec.retention_days * 86400
    if spec.dead_letter:
        target = QUEUES[next(k for k, q in QUEUES.items() if q.construct_id == spec.dead_letter)]
        local_redrive = json.loads(local["RedrivePolicy"])
        assert template["RedrivePolicy"]["maxReceiveCount"] == local_redrive["maxReceiveCount"] == spec.max_receive_count
        assert template["RedrivePolicy"]["deadLetterTargetArn"] == {
            "Fn::GetAtt": [default_synth.logical("Queue", spec.dead_letter), "Arn"]}
        assert local_redrive["deadLetterTargetArn"].endswith(f":{target.local_name}")
    else:
        assert "RedrivePolicy" not in template and "RedrivePolicy" not in local
    consumer = _consumer(spec)
    if consumer:  # 6x the consuming function's timeout, in both
        assert spec.visibility_timeout == c.VISIBILITY_TIMEOUT_FACTOR * consumer.timeout_seconds
        assert template["VisibilityTimeout"] == 6 * default_synth.function(consumer.name)["Timeout"]


def test_uploads_redrive_count_is_the_one_the_intake_function_counts_to() -> None:
    assert QUEUES["uploads"].max_receive_count == c.MAX_RECEIVE_COUNT


# --- functions -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_handler_timeout_and_memory_agree(default_synth: Synth, cloud: Any, name: str) -> None:
    spec = FUNCTIONS[name]
    template = default_synth.function(name)
    local = cloud.client("lambda").get_function_configuration(FunctionName=spec.local_name)
    assert template["Handler"] == local["Handler"] == spec.handler
    assert template["Timeout"] == local["Timeout"] == spec.timeout_seconds == c.FUNCTION_TIMEOUT_SECONDS[name]
    assert template["MemorySize"] == local["MemorySize"] == spec.memory_mb


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_environment_names_agree(default_synth: Synth, cloud: Any, name: str) -> None:
    template = set(default_synth.function(name)["Environment"]["Variables"])
    local = set(cloud.function_environment(name))
    # Neither sets a spend budget here: a budget's variable is absent (no limit).
    assert template == set(c.FUNCTION_ENV[name]) - {c.ENV_BUDGET_DAILY, c.ENV_BUDGET_MONTHLY}
    # Locally the API key is an environment variable of the test run, not a secret's name.
    assert local == set(c.FUNCTION_ENV[name]) - set(c.OPTIONAL_ENV)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_triggers_agree(default_synth: Synth, name: str) -> None:
    spec = FUNCTIONS[name]
    mappings = [m["Properties"] for m in default_synth.resources("AWS::Lambda::EventSourceMapping").values()
                if m["Properties"]["FunctionName"] == {"Ref": default_synth.function_id(name)}]
    if spec.trigger is None:
        assert mappings == []
    else:
        [mapping] = mappings
        assert mapping["EventSourceArn"] == {"Fn::GetAtt": [default_synth.logical("Queue", spec.trigger.queue), "Arn"]}
        assert mapping["BatchSize"] == spec.trigger.batch_size
        assert mapping["ScalingConfig"] == {"MaximumConcurrency": spec.trigger.max_concurrency}
        assert mapping.get("MaximumBatchingWindowInSeconds", 0) == spec.trigger.batching_window_seconds
    rules = [r["Properties"] for r in default_synth.resources("AWS::Events::Rule").values()
             if r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [default_synth.function_id(name), "Arn"]}]
    if spec.schedule_seconds is None:
        assert rules == []
    else:
        [rule] = rules
        assert rule["ScheduleExpression"] == f"rate({spec.schedule_seconds // 60} minute{'s' if spec.schedule_seconds > 60 else ''})"


# --- the workflow ----------------------------------------------------------------------------------

def test_the_local_state_machine_runs_the_deployed_definition(default_synth: Synth, cloud: Any) -> None:
    template = default_synth.resource("Workflow", "StateMachine")["Properties"]["DefinitionString"]
    arns = cloud.resources.function_arns
    expected = substitute(template, {"StatusFunctionArn": arns[c.FN_STATUS], "StoreFunctionArn": arns[c.FN_STORE],
                                     "Partition": "aws"})
    local = cloud.client("stepfunctions").describe_state_machine(stateMachineArn=cloud.state_machine_arn)
    assert json.loads(local["definition"]) == json.loads(expected)


# --- events ----------------------------------------------------------------------------------------

def test_the_local_cloud_puts_events_on_the_bus_the_stack_names_and_a_rule_takes_them(
        default_synth: Synth, cloud: Any) -> None:
    template = default_synth.function(c.FN_STORE)["Environment"]["Variables"][c.ENV_EVENT_BUS]
    assert template == cloud.function_environment(c.FN_STORE)[c.ENV_EVENT_BUS] == c.DEFAULT_EVENT_BUS
    [rule] = cloud.client("events").list_rules(EventBusName=template)["Rules"]
    assert json.loads(rule["EventPattern"]) == {"source": [c.EVENT_SOURCE]}
