"""The wiring: each function's settings and permissions, the outputs, and where secrets may not go."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from i2v import constants as c

pytestmark = pytest.mark.infra

ENV_NAMES = {
    c.ENV_BUCKET, c.ENV_UPLOADS_PREFIX, c.ENV_OUTPUTS_PREFIX, c.ENV_TOPIC_ARN, c.ENV_STATE_MACHINE_ARN,
    c.ENV_QUEUE_URL, c.ENV_JOBS_TABLE, c.ENV_IDEMPOTENCY_TABLE, c.ENV_CONTROL_TABLE, c.ENV_API_KEY_SECRET,
    c.ENV_PROVIDER_URL, c.ENV_DEFAULTS, c.ENV_MAX_IN_FLIGHT, c.ENV_SUBMITS_PER_MINUTE, c.ENV_DEADLINE_STANDARD,
    c.ENV_DEADLINE_PROFESSIONAL, c.ENV_URL_POLICY, c.ENV_MAX_VIDEO_BYTES,
    "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE",
}
FUNCTIONS = ("Submit", "Status", "Store")


def env(synth, name: str) -> dict:
    return synth.function(name)["Environment"]["Variables"]


def logical_id(synth, cfn_type: str, containing: str) -> str:
    return synth.one(cfn_type, containing)[0]


def grants(synth, name: str) -> dict[str, list]:
    """action -> resources granted to the function's role."""
    granted: dict[str, list] = defaultdict(list)
    for statement in synth.role_statements(name):
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in actions:
            granted[action].extend(resources)
    return granted


def refs(value) -> set[str]:
    """Logical ids a CloudFormation value refers to."""
    text = json.dumps(value)
    found = set()
    for marker in ('{"Ref": "', '{"Fn::GetAtt": ["'):
        for part in text.split(marker)[1:]:
            found.add(part.split('"')[0])
    return found


def test_every_function_gets_the_same_settings(default_synth):
    variables = [env(default_synth, name) for name in FUNCTIONS]
    assert set(variables[0]) == ENV_NAMES
    assert variables[0] == variables[1] == variables[2]


def test_settings_values(default_synth):
    s = default_synth
    variables = env(s, "Submit")
    assert variables[c.ENV_UPLOADS_PREFIX] == "uploads/"
    assert variables[c.ENV_OUTPUTS_PREFIX] == "outputs/"
    assert variables[c.ENV_URL_POLICY] == "public-https"
    assert variables[c.ENV_PROVIDER_URL] == "https://api.highwayapi.ai"
    assert (variables[c.ENV_MAX_IN_FLIGHT], variables[c.ENV_SUBMITS_PER_MINUTE]) == ("10", "20")
    assert (variables[c.ENV_DEADLINE_STANDARD], variables[c.ENV_DEADLINE_PROFESSIONAL]) == ("900", "1800")
    assert variables[c.ENV_MAX_VIDEO_BYTES] == str(c.DEFAULT_MAX_VIDEO_BYTES)
    assert json.loads(variables[c.ENV_DEFAULTS])["mode"] == "Standard"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "i2v"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "I2VPipeline"
    assert refs(variables[c.ENV_BUCKET]) == {logical_id(s, "AWS::S3::Bucket", "StorageBucket")}
    assert refs(variables[c.ENV_TOPIC_ARN]) == {logical_id(s, "AWS::SNS::Topic", "Notifications")}
    assert refs(variables[c.ENV_QUEUE_URL]) == {logical_id(s, "AWS::SQS::Queue", "Uploads")}
    assert refs(variables[c.ENV_JOBS_TABLE]) == {logical_id(s, "AWS::DynamoDB::Table", "Jobs")}
    assert refs(variables[c.ENV_IDEMPOTENCY_TABLE]) == {logical_id(s, "AWS::DynamoDB::Table", "Idempotency")}
    assert refs(variables[c.ENV_CONTROL_TABLE]) == {logical_id(s, "AWS::DynamoDB::Table", "Control")}
    assert refs(variables[c.ENV_API_KEY_SECRET]) == {logical_id(s, "AWS::SecretsManager::Secret", "ApiKey")}


def test_state_machine_arn_in_settings_names_the_real_state_machine(default_synth):
    _, machine = default_synth.one("AWS::StepFunctions::StateMachine")
    name = machine["Properties"]["StateMachineName"]
    arn = json.dumps(env(default_synth, "Submit")[c.ENV_STATE_MACHINE_ARN])
    assert f":stateMachine:{name}" in arn
    assert refs(json.loads(arn)) <= {"AWS::Partition", "AWS::Region", "AWS::AccountId"}  # no cycle


def test_existing_bucket_and_secret_are_passed_by_name(existing_synth):
    variables = env(existing_synth, "Submit")
    assert variables[c.ENV_BUCKET] == "existing-i2v-bucket"
    assert variables[c.ENV_API_KEY_SECRET] == "prod/highway-api-key"


def test_submit_reads_uploads_consumes_and_resends_starts_workflow(default_synth):
    s = default_synth
    granted = grants(s, "Submit")
    bucket = logical_id(s, "AWS::S3::Bucket", "StorageBucket")
    queue = logical_id(s, "AWS::SQS::Queue", "Uploads")
    for action in ("s3:GetObject", "s3:GetObjectVersion"):
        assert [json.dumps(r) for r in granted[action]] == [json.dumps(
            {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/uploads/*"]]})]
    assert "s3:PutObject" not in granted
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:SendMessage"):
        assert refs(granted[action]) == {queue}, action
    assert refs(granted["states:StartExecution"]) == {logical_id(s, "AWS::StepFunctions::StateMachine", "")}
    tables = {logical_id(s, "AWS::DynamoDB::Table", t) for t in ("Jobs", "Idempotency", "Control")}
    for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"):
        assert refs(granted[action]) == tables, action
    assert refs(granted["secretsmanager:GetSecretValue"]) == {logical_id(s, "AWS::SecretsManager::Secret", "")}
    assert "sns:Publish" not in granted


def test_submit_may_list_the_bucket_so_missing_keys_are_404(default_synth):
    """HeadObject on `_defaults.json` must see 404 (absent), not 403, when no such file exists."""
    bucket = logical_id(default_synth, "AWS::S3::Bucket", "StorageBucket")
    listing = [st for st in default_synth.role_statements("Submit") if st["Action"] == "s3:ListBucket"]
    assert len(listing) == 1
    assert listing[0]["Resource"] == {"Fn::GetAtt": [bucket, "Arn"]}
    assert "Condition" not in listing[0]
    assert not [st for name in ("Status", "Store") for st in default_synth.role_statements(name)
                if "s3:ListBucket" in json.dumps(st["Action"])]


def test_status_reads_the_secret_and_the_jobs_table_only(default_synth):
    s = default_synth
    granted = grants(s, "Status")
    assert refs(granted["secretsmanager:GetSecretValue"]) == {logical_id(s, "AWS::SecretsManager::Secret", "")}
    assert refs(granted["dynamodb:UpdateItem"]) == {logical_id(s, "AWS::DynamoDB::Table", "Jobs")}
    assert not [a for a in granted if a.split(":")[0] in ("s3", "sns", "sqs", "states")]


def test_store_writes_outputs_publishes_and_updates_jobs_and_control(default_synth):
    s = default_synth
    granted = grants(s, "Store")
    bucket = logical_id(s, "AWS::S3::Bucket", "StorageBucket")
    outputs = json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/outputs/*"]]})
    for action in ("s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"):
        assert [json.dumps(r) for r in granted[action]] == [outputs], action
    assert refs(granted["sns:Publish"]) == {logical_id(s, "AWS::SNS::Topic", "Notifications")}
    assert refs(granted["dynamodb:UpdateItem"]) == {logical_id(s, "AWS::DynamoDB::Table", t) for t in ("Jobs", "Control")}
    assert "secretsmanager:GetSecretValue" not in granted
    assert not [a for a in granted if a.split(":")[0] in ("sqs", "states")]


def test_existing_secret_is_granted_by_name_with_the_arn_suffix(existing_synth):
    granted = grants(existing_synth, "Status")
    arn = json.dumps(granted["secretsmanager:GetSecretValue"])
    assert ":secret:prod/highway-api-key-??????" in arn


def _iam_statements(synth):
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


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_no_star_action_and_every_star_resource_is_acknowledged(any_synth):
    for logical, resource, statement in _iam_statements(any_synth):
        assert "*" not in _as_list(statement["Action"]), logical
        assert not [a for a in _as_list(statement["Action"]) if a.endswith(":*")], logical
        if "*" in _as_list(statement.get("Resource")):
            acknowledged = {r["id"]: r["reason"] for r in
                            resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])}
            reason = acknowledged.get("AwsSolutions-IAM5[Resource::*]", "")
            assert len(reason) > 20, f"{logical}: Resource '*' for {statement['Action']} is not acknowledged"


def test_every_acknowledgement_carries_a_reason(any_synth):
    seen = 0
    for resource in any_synth.cfn["Resources"].values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            assert rule["id"].startswith("AwsSolutions-")
            assert len(rule["reason"]) > 20, rule
            seen += 1
    assert seen > 0


def test_outputs(default_synth):
    outputs = default_synth.cfn["Outputs"]
    assert {"BucketName", "UploadsPrefix", "TopicArn", "StateMachineArn", "QueueUrl", "DeadLetterQueueUrl",
            "JobsTableName", "ApiKeySecretName", "DashboardName"} <= set(outputs)
    assert outputs["UploadsPrefix"]["Value"] == "uploads/"
    assert outputs["ApiKeySecretName"]["Value"] == "I2VPipeline/highway-api-key"
    assert refs(outputs["DashboardName"]["Value"]) == {logical_id(default_synth, "AWS::CloudWatch::Dashboard", "")}


def test_existing_secret_output_is_its_name(existing_synth):
    assert existing_synth.cfn["Outputs"]["ApiKeySecretName"]["Value"] == "prod/highway-api-key"


def test_no_secret_value_in_settings_or_outputs(any_synth):
    secrets = set(any_synth.resources("AWS::SecretsManager::Secret"))
    text = json.dumps(any_synth.cfn)
    assert "resolve:secretsmanager" not in text  # no dynamic reference to a secret's value anywhere
    assert "\"SecretString\"" not in text  # a literal value (GenerateSecretString is fine)
    for name in FUNCTIONS:
        variables = env(any_synth, name)
        assert c.ENV_API_KEY not in variables
        for key, value in variables.items():
            if key != c.ENV_API_KEY_SECRET:
                assert not refs(value) & secrets, key
    for output in any_synth.cfn["Outputs"].values():
        for secret in secrets:  # only the name, which is not a reference to the secret resource
            assert secret not in refs(output["Value"])


def test_stack_is_environment_agnostic(default_synth):
    """No account or region baked in: synth needs no credentials and no lookups."""
    from aws_cdk import Token

    assert Token.is_unresolved(default_synth.stack.account)
    assert Token.is_unresolved(default_synth.stack.region)
    assert not (default_synth.outdir / "cdk.context.json").exists()
