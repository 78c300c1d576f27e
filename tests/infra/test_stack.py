"""The wiring: each function's settings and permissions, the schedule, the outputs, and where secrets
may not go."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from infra_synth import Synth

from i2v import constants as c
from i2v_infra.resources import FUNCTIONS

pytestmark = pytest.mark.infra

NAMES = tuple(FUNCTIONS)  # intake, dispatch, status, store


def env(synth: Synth, name: str) -> dict[str, Any]:
    return dict(synth.function(name)["Environment"]["Variables"])


def logical_id(synth: Synth, cfn_type: str, containing: str) -> str:
    return synth.one(cfn_type, containing)[0]


def grants(synth: Synth, name: str) -> dict[str, list[Any]]:
    """action -> resources granted to the function's role."""
    granted: dict[str, list[Any]] = defaultdict(list)
    for statement in synth.role_statements(name):
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            granted[action].extend(_as_list(statement["Resource"]))
    return granted


def refs(value: Any) -> set[str]:
    """Logical ids a CloudFormation value refers to."""
    text = json.dumps(value)
    found = set()
    for marker in ('{"Ref": "', '{"Fn::GetAtt": ["'):
        for part in text.split(marker)[1:]:
            found.add(part.split('"')[0])
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- environment -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_each_function_gets_exactly_the_variables_it_reads(any_synth: Synth, name: str) -> None:
    # No synth here sets a spend budget: a budget's variable is absent (no limit), never empty.
    unset = {c.ENV_BUDGET_DAILY, c.ENV_BUDGET_MONTHLY}
    assert sorted(env(any_synth, name)) == sorted(set(c.FUNCTION_ENV[name]) - unset)


def test_local_only_variables_are_never_deployed(any_synth: Synth) -> None:
    for name in NAMES:
        assert not set(c.LOCAL_ONLY_ENV) & set(env(any_synth, name)), name


def test_a_variable_has_one_value_whichever_function_reads_it(default_synth: Synth) -> None:
    seen: dict[str, tuple[str, str]] = {}
    for name in NAMES:
        for variable, value in env(default_synth, name).items():
            text = json.dumps(value, sort_keys=True)
            if variable in seen:
                assert seen[variable][1] == text, f"{variable}: {seen[variable][0]} and {name} differ"
            seen[variable] = (name, text)


def _all_values(synth: Synth) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name in NAMES:
        merged.update(env(synth, name))
    return merged


def test_settings_values(default_synth: Synth) -> None:
    s = default_synth
    variables = _all_values(s)
    assert variables[c.ENV_UPLOADS_PREFIX] == "uploads/"
    assert variables[c.ENV_OUTPUTS_PREFIX] == "outputs/"
    assert variables[c.ENV_URL_POLICY] == c.URL_POLICY_PUBLIC_HTTPS
    assert variables[c.ENV_PROVIDER_URL] == "https://api.highwayapi.ai"
    assert (variables[c.ENV_MAX_IN_FLIGHT], variables[c.ENV_SUBMITS_PER_MINUTE]) == ("10", "20")
    assert (variables[c.ENV_DEADLINE_STANDARD], variables[c.ENV_DEADLINE_PROFESSIONAL]) == ("900", "1800")
    assert variables[c.ENV_MAX_VIDEO_BYTES] == str(c.DEFAULT_MAX_VIDEO_BYTES)
    assert variables[c.ENV_SUBMIT_MAX_ATTEMPTS] == str(c.DEFAULT_SUBMIT_MAX_ATTEMPTS)
    assert variables[c.ENV_IMAGE_URL_TTL] == str(c.DEFAULT_IMAGE_URL_TTL)
    assert variables[c.ENV_DOWNLOAD_URL_TTL] == str(c.DEFAULT_DOWNLOAD_URL_TTL)
    assert json.loads(variables[c.ENV_DEFAULTS])["mode"] == "Standard"
    assert variables[c.ENV_POWERTOOLS_SERVICE] == c.SERVICE_NAME
    assert variables[c.ENV_POWERTOOLS_NAMESPACE] == c.METRICS_NAMESPACE
    assert refs(variables[c.ENV_BUCKET]) == {s.logical("Storage", "Bucket")}
    assert refs(variables[c.ENV_TOPIC_ARN]) == {s.logical("Notifications", "Topic")}
    assert refs(variables[c.ENV_WAKE_QUEUE_URL]) == {s.logical("Queue", "Wake")}
    assert refs(variables[c.ENV_JOBS_TABLE]) == {s.logical("Tables", "Jobs")}
    assert refs(variables[c.ENV_IDEMPOTENCY_TABLE]) == {s.logical("Tables", "Idempotency")}
    assert refs(variables[c.ENV_CONTROL_TABLE]) == {s.logical("Tables", "Control")}
    assert refs(variables[c.ENV_API_KEY_SECRET]) == {s.logical("ApiKey", "Secret")}


def test_job_retention_reaches_the_store_function(default_synth: Synth, tmp_path: Path) -> None:
    from infra_synth import synthesize

    assert env(default_synth, c.FN_STORE)[c.ENV_JOB_RETENTION_DAYS] == str(c.DEFAULT_JOB_RETENTION_DAYS)
    assert env(synthesize(tmp_path, jobRetentionDays=30), c.FN_STORE)[c.ENV_JOB_RETENTION_DAYS] == "30"
    for name in (c.FN_INTAKE, c.FN_DISPATCH, c.FN_STATUS):
        assert c.ENV_JOB_RETENTION_DAYS not in env(default_synth, name)
    ttl = default_synth.resource("Tables", "Jobs")["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": c.JOBS_TTL_ATTRIBUTE, "Enabled": True}


def test_prices_and_budgets_reach_the_dispatcher_only(default_synth: Synth, budget_synth: Synth) -> None:
    from i2v.contracts.prices import price_table

    default = env(default_synth, c.FN_DISPATCH)
    assert json.loads(default[c.ENV_PRICES]) == {"Standard": {"5": 0.13, "10": 0.26},
                                                 "Professional": {"5": 0.475, "10": 0.95}}
    assert default[c.ENV_BUDGET_ACTION] == "wait"
    assert c.ENV_BUDGET_DAILY not in default and c.ENV_BUDGET_MONTHLY not in default  # no budget: no limit
    budget = env(budget_synth, c.FN_DISPATCH)
    assert price_table(json.loads(budget[c.ENV_PRICES]))["Professional"][10] == 0.9
    assert (budget[c.ENV_BUDGET_DAILY], budget[c.ENV_BUDGET_MONTHLY], budget[c.ENV_BUDGET_ACTION]) == (
        "20.0", "400.5", "fail")
    assert sorted(budget) == sorted(c.FUNCTION_ENV[c.FN_DISPATCH])  # with budgets, every variable it reads
    for name in (c.FN_INTAKE, c.FN_STATUS, c.FN_STORE):
        variables = env(budget_synth, name)
        for knob in (c.ENV_PRICES, c.ENV_BUDGET_DAILY, c.ENV_BUDGET_MONTHLY, c.ENV_BUDGET_ACTION):
            assert knob not in variables, (name, knob)


def test_state_machine_arn_in_settings_names_the_real_state_machine(default_synth: Synth) -> None:
    _, machine = default_synth.one("AWS::StepFunctions::StateMachine")
    name = machine["Properties"]["StateMachineName"]
    for function in (c.FN_INTAKE, c.FN_DISPATCH):
        arn = env(default_synth, function)[c.ENV_STATE_MACHINE_ARN]
        assert f":stateMachine:{name}" in json.dumps(arn)
        assert refs(arn) <= {"AWS::Partition", "AWS::Region", "AWS::AccountId"}  # no cycle


def test_existing_bucket_and_secret_are_passed_by_name(existing_synth: Synth) -> None:
    variables = _all_values(existing_synth)
    assert variables[c.ENV_BUCKET] == "existing-i2v-bucket"
    assert variables[c.ENV_API_KEY_SECRET] == "prod/highway-api-key"


# --- triggers --------------------------------------------------------------------------------------

def test_the_dispatcher_is_woken_every_minute_by_a_schedule(default_synth: Synth) -> None:
    s = default_synth
    rules = s.resources("AWS::Events::Rule")
    assert len(rules) == 1
    [(rule_id, rule)] = rules.items()
    props = rule["Properties"]
    assert props["ScheduleExpression"] == "rate(1 minute)" and c.DISPATCH_SCHEDULE_SECONDS == 60
    assert props["State"] == "ENABLED"
    [target] = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [s.function_id(c.FN_DISPATCH), "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 0  # the next tick is the retry
    s.template.has_resource_properties("AWS::Lambda::Permission", {
        "Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
        "FunctionName": {"Fn::GetAtt": [s.function_id(c.FN_DISPATCH), "Arn"]},
        "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}})


def test_only_intake_and_dispatch_have_queue_triggers(default_synth: Synth) -> None:
    s = default_synth
    mappings = {m["Properties"]["FunctionName"]["Ref"]: m["Properties"]
                for m in s.resources("AWS::Lambda::EventSourceMapping").values()}
    assert set(mappings) == {s.function_id(c.FN_INTAKE), s.function_id(c.FN_DISPATCH)}
    assert mappings[s.function_id(c.FN_INTAKE)]["EventSourceArn"] == {"Fn::GetAtt": [s.logical("Queue", "Uploads"), "Arn"]}
    assert mappings[s.function_id(c.FN_DISPATCH)]["EventSourceArn"] == {"Fn::GetAtt": [s.logical("Queue", "Wake"), "Arn"]}


# --- permissions -----------------------------------------------------------------------------------

def _uploads(s: Synth) -> str:
    return json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [s.logical("Storage", "Bucket"), "Arn"]}, "/uploads/*"]]})


def _outputs(s: Synth) -> str:
    return json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [s.logical("Storage", "Bucket"), "Arn"]}, "/outputs/*"]]})


def test_intake_reads_uploads_parks_jobs_starts_failure_reports_and_wakes(default_synth: Synth) -> None:
    s = default_synth
    granted = grants(s, c.FN_INTAKE)
    for action in ("s3:GetObject", "s3:GetObjectVersion"):
        assert [json.dumps(r) for r in granted[action]] == [_uploads(s)], action
    assert "s3:PutObject" not in granted
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"):
        assert refs(granted[action]) == {s.logical("Queue", "Uploads")}, action
    # wakes the dispatcher; a batch file's rows go back on the upload queue
    assert refs(granted["sqs:SendMessage"]) == {s.logical("Queue", "Wake"), s.logical("Queue", "Uploads")}
    assert refs(granted["states:StartExecution"]) == {s.logical("Workflow", "StateMachine")}
    assert refs(granted["dynamodb:GetItem"]) == {s.logical("Tables", "Jobs"), s.logical("Tables", "Control")}
    assert refs(granted["dynamodb:UpdateItem"]) == {s.logical("Tables", "Jobs"), s.logical("Tables", "Control")}
    # the claims on images a job file names, and a batch's ledger: new items in the control table only
    assert refs(granted["dynamodb:PutItem"]) == {s.logical("Tables", "Control")}
    assert "secretsmanager:GetSecretValue" not in granted
    assert "sns:Publish" not in granted


def test_dispatch_takes_capacity_submits_once_and_starts_workflows(default_synth: Synth) -> None:
    s = default_synth
    granted = grants(s, c.FN_DISPATCH)
    # the uploads, and outputs (pay once per content: an earlier video's version and its name still exist)
    for action in ("s3:GetObject", "s3:GetObjectVersion"):
        assert sorted(json.dumps(r) for r in granted[action]) == sorted([_uploads(s), _outputs(s)]), action
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage"):
        assert refs(granted[action]) == {s.logical("Queue", "Wake")}, action
    assert refs(granted["states:StartExecution"]) == {s.logical("Workflow", "StateMachine")}
    assert ":execution:" in json.dumps(granted["states:DescribeExecution"])
    tables = {s.logical("Tables", t) for t in ("Jobs", "Control", "Idempotency")}
    assert refs(granted["dynamodb:PutItem"]) >= {s.logical("Tables", "Idempotency")}
    assert refs(granted["dynamodb:UpdateItem"]) == tables
    assert refs(granted["dynamodb:Query"]) >= {s.logical("Tables", "Jobs")}
    assert refs(granted["secretsmanager:GetSecretValue"]) == {s.logical("ApiKey", "Secret")}
    # pay once per content: a content whose earlier video is gone is forgotten (its control item deleted)
    assert refs(granted["dynamodb:DeleteItem"]) == {s.logical("Tables", "Control"), s.logical("Tables", "Idempotency")}
    assert "sns:Publish" not in granted and "s3:PutObject" not in granted


def test_read_uploads_may_list_the_bucket_so_missing_keys_are_404(default_synth: Synth) -> None:
    """HeadObject on `_defaults.json` must see 404 (absent), not 403, when no such file exists (and the
    dispatcher's on an earlier output that was deleted: one statement more, for the outputs prefix)."""
    bucket = default_synth.logical("Storage", "Bucket")
    for name, count in ((c.FN_INTAKE, 1), (c.FN_DISPATCH, 2)):
        listing = [st for st in default_synth.role_statements(name) if st["Action"] == "s3:ListBucket"]
        assert len(listing) == count, name
        assert all(st["Resource"] == {"Fn::GetAtt": [bucket, "Arn"]} for st in listing)
    assert not [st for name in (c.FN_STATUS, c.FN_STORE) for st in default_synth.role_statements(name)
                if "s3:ListBucket" in json.dumps(st["Action"])]


def test_status_reads_the_secret_and_updates_the_jobs_table_only(default_synth: Synth) -> None:
    s = default_synth
    granted = grants(s, c.FN_STATUS)
    assert refs(granted["secretsmanager:GetSecretValue"]) == {s.logical("ApiKey", "Secret")}
    assert refs(granted["dynamodb:UpdateItem"]) == {s.logical("Tables", "Jobs")}
    assert not [a for a in granted if a.split(":")[0] in ("s3", "sns", "sqs", "states")]


def test_store_writes_outputs_publishes_updates_jobs_and_control_and_wakes(default_synth: Synth) -> None:
    s = default_synth
    granted = grants(s, c.FN_STORE)
    outputs = json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [s.logical("Storage", "Bucket"), "Arn"]}, "/outputs/*"]]})
    for action in ("s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"):
        assert [json.dumps(r) for r in granted[action]] == [outputs], action
    assert refs(granted["sns:Publish"]) == {s.logical("Notifications", "Topic")}
    assert refs(granted["sqs:SendMessage"]) == {s.logical("Queue", "Wake")}
    assert refs(granted["dynamodb:UpdateItem"]) == {s.logical("Tables", t) for t in ("Jobs", "Control")}
    assert "secretsmanager:GetSecretValue" not in granted
    assert "states:StartExecution" not in granted and "sqs:ReceiveMessage" not in granted


def test_existing_secret_is_granted_by_name_with_the_arn_suffix(existing_synth: Synth) -> None:
    for name in (c.FN_DISPATCH, c.FN_STATUS):
        arn = json.dumps(grants(existing_synth, name)["secretsmanager:GetSecretValue"])
        assert ":secret:prod/highway-api-key-??????" in arn, name


def _iam_statements(synth: Synth) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for logical, resource in synth.cfn["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [props["PolicyDocument"]]
        elif resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        else:
            continue
        for document in documents:
            for statement in document["Statement"]:
                yield logical, resource, statement


def test_no_star_action_and_every_star_resource_is_acknowledged(any_synth: Synth) -> None:
    for logical, resource, statement in _iam_statements(any_synth):
        assert "*" not in _as_list(statement["Action"]), logical
        assert not [a for a in _as_list(statement["Action"]) if a.endswith(":*")], logical
        if "*" in _as_list(statement.get("Resource")):
            acknowledged = {r["id"]: r["reason"] for r in
                            resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])}
            reason = acknowledged.get("AwsSolutions-IAM5[Resource::*]", "")
            assert len(reason) > 20, f"{logical}: Resource '*' for {statement['Action']} is not acknowledged"


def test_every_acknowledgement_carries_a_reason(any_synth: Synth) -> None:
    seen = 0
    for resource in any_synth.cfn["Resources"].values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            assert rule["id"].startswith("AwsSolutions-")
            assert len(rule["reason"]) > 20, rule
            seen += 1
    assert seen > 0


# --- outputs and secrets ---------------------------------------------------------------------------

def test_outputs(default_synth: Synth) -> None:
    outputs = default_synth.cfn["Outputs"]
    assert {"BucketName", "UploadsPrefix", "OutputsPrefix", "TopicArn", "AlarmTopicArn", "StateMachineArn",
            "QueueUrl", "DeadLetterQueueUrl", "JobsTableName", "ApiKeySecretName", "DashboardName"} <= set(outputs)
    assert outputs["UploadsPrefix"]["Value"] == "uploads/"
    assert refs(outputs["QueueUrl"]["Value"]) == {default_synth.logical("Queue", "Uploads")}
    assert refs(outputs["DeadLetterQueueUrl"]["Value"]) == {default_synth.logical("Queue", "DeadLetters")}
    assert refs(outputs["JobsTableName"]["Value"]) == {default_synth.logical("Tables", "Jobs")}
    assert refs(outputs["DashboardName"]["Value"]) == {logical_id(default_synth, "AWS::CloudWatch::Dashboard", "")}


def test_existing_secret_output_is_its_name(existing_synth: Synth) -> None:
    assert existing_synth.cfn["Outputs"]["ApiKeySecretName"]["Value"] == "prod/highway-api-key"


def test_no_secret_value_in_settings_or_outputs(any_synth: Synth) -> None:
    secrets = set(any_synth.resources("AWS::SecretsManager::Secret"))
    text = json.dumps(any_synth.cfn)
    assert "resolve:secretsmanager" not in text  # no dynamic reference to a secret's value anywhere
    assert "\"SecretString\"" not in text  # a literal value (GenerateSecretString is fine)
    for name in NAMES:
        variables = env(any_synth, name)
        assert c.ENV_API_KEY not in variables
        for key, value in variables.items():
            if key != c.ENV_API_KEY_SECRET:
                assert not refs(value) & secrets, key
    for output in any_synth.cfn["Outputs"].values():
        for secret in secrets:  # only the name, which is not a reference to the secret resource
            assert secret not in refs(output["Value"])


def test_stack_is_environment_agnostic(default_synth: Synth) -> None:
    """No account or region baked in: synth needs no credentials and no lookups."""
    from aws_cdk import Token

    assert Token.is_unresolved(default_synth.stack.account)
    assert Token.is_unresolved(default_synth.stack.region)
    assert not (default_synth.outdir / "cdk.context.json").exists()
