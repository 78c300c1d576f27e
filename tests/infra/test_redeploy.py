"""A stack deleted and deployed again, in any partition (issue 11, finding 6).

Deleting the stack keeps what `removalPolicy=retain` protects (bucket, tables, keys, log groups). A
kept resource with a fixed name blocks the next deploy of the same stack ("... already exists"), as the
API key secret named "<stack>/highway-api-key" did. The rule checked here, over every resource: one
that outlives the stack has no fixed name, or a name made unique by the stack id; one with a fixed
name is deleted with the stack. CloudFormation deletes a secret without a recovery window, so its name
is free again at once.

In other partitions (aws-cn, aws-us-gov) an ARN starts `arn:aws-cn:`..., so no ARN may be written
with `arn:aws:` in the template or the ASL.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from infra_synth import Synth

pytestmark = pytest.mark.infra

# The name properties CloudFormation lets a template fix, by resource type.
NAME_PROPERTIES = {
    "AWS::SecretsManager::Secret": "Name", "AWS::DynamoDB::Table": "TableName", "AWS::S3::Bucket": "BucketName",
    "AWS::Logs::LogGroup": "LogGroupName", "AWS::SNS::Topic": "TopicName", "AWS::SQS::Queue": "QueueName",
    "AWS::Lambda::Function": "FunctionName", "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::CloudWatch::Dashboard": "DashboardName", "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::IAM::Role": "RoleName", "AWS::KMS::Alias": "AliasName", "AWS::Events::Rule": "Name",
}
KEPT = ("Retain", "RetainExceptOnCreate", "Snapshot")


def _unique_per_stack(name: Any) -> bool:
    """A name built from the stack's id (its UUID) differs on every deploy of a new stack."""
    return "AWS::StackId" in json.dumps(name)


def test_nothing_kept_after_a_delete_has_a_name_the_next_deploy_wants(any_synth: Synth) -> None:
    blocking = []
    for logical, resource in any_synth.cfn["Resources"].items():
        name = resource.get("Properties", {}).get(NAME_PROPERTIES.get(resource["Type"], ""))
        kept = resource.get("DeletionPolicy") in KEPT or resource.get("UpdateReplacePolicy") in KEPT
        if name is not None and kept and not _unique_per_stack(name):
            blocking.append(f"{logical} ({resource['Type']}) keeps the fixed name {json.dumps(name)}")
    assert blocking == []


def test_the_api_key_secret_created_by_the_stack_goes_with_it(any_synth: Synth) -> None:
    for logical, secret in any_synth.resources("AWS::SecretsManager::Secret").items():
        assert secret["DeletionPolicy"] == "Delete" and secret["UpdateReplacePolicy"] == "Delete", logical


def test_the_rule_catches_a_retained_fixed_name(default_synth: Synth) -> None:
    """The finding as it was: the secret retained under its fixed name."""
    import copy

    cfn = copy.deepcopy(default_synth.cfn)
    secret = default_synth.logical("ApiKey", "Secret")
    cfn["Resources"][secret]["DeletionPolicy"] = "Retain"
    synth = Synth(app=None, stack=default_synth.stack, outdir=default_synth.outdir, template=None, cfn=cfn)
    with pytest.raises(AssertionError, match="keeps the fixed name"):
        test_nothing_kept_after_a_delete_has_a_name_the_next_deploy_wants(synth)


def test_no_arn_names_a_partition_literally(any_synth: Synth) -> None:
    """Every ARN the template builds takes `AWS::Partition` (the ASL's `${Partition}` included)."""
    text = json.dumps(any_synth.cfn)
    assert re.findall(r"arn:aws(?:-[a-z]+)*:", text) == []
    definition = any_synth.one("AWS::StepFunctions::StateMachine")[1]["Properties"]
    assert "arn:${Partition}:states:::lambda:invoke" in definition["DefinitionString"]
    assert definition["DefinitionSubstitutions"]["Partition"] == {"Ref": "AWS::Partition"}
