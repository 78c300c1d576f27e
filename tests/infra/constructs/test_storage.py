"""Storage: the hardened new bucket, its access-log bucket, and the upload notification (new or imported)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match
from infra_synth import Synth

pytestmark = pytest.mark.infra

BLOCK_ALL = {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
             "RestrictPublicBuckets": True}


def _data_bucket(synth: Synth) -> tuple[str, dict[str, Any]]:
    return synth.one("AWS::S3::Bucket", "StorageBucket")


def test_new_bucket_is_private_encrypted_versioned_and_logged(default_synth: Synth) -> None:
    _, bucket = _data_bucket(default_synth)
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == BLOCK_ALL
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
        "SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    logs_logical, _ = default_synth.one("AWS::S3::Bucket", "AccessLogs")
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_logical}
    assert bucket["DeletionPolicy"] == "Retain"


def test_both_buckets_enforce_tls(default_synth: Synth) -> None:
    for logical in default_synth.resources("AWS::S3::Bucket"):
        policies = [p for p in default_synth.resources("AWS::S3::BucketPolicy").values()
                    if p["Properties"]["Bucket"] == {"Ref": logical}]
        assert len(policies) == 1, logical
        statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in statements), logical


def test_access_log_bucket_is_private_and_accepts_log_delivery(default_synth: Synth) -> None:
    logical, bucket = default_synth.one("AWS::S3::Bucket", "AccessLogs")
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == BLOCK_ALL
    assert "BucketEncryption" in bucket["Properties"]
    default_synth.template.has_resource_properties("AWS::S3::BucketPolicy", {
        "Bucket": {"Ref": logical},
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject"})])},
    })


def test_uploads_prefix_notifies_the_queue(default_synth: Synth) -> None:
    queue, _ = default_synth.one("AWS::SQS::Queue", "Uploads")
    bucket, _ = _data_bucket(default_synth)
    default_synth.template.has_resource_properties("Custom::S3BucketNotifications", {
        "BucketName": {"Ref": bucket},
        "NotificationConfiguration": {"QueueConfigurations": [{
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
            "QueueArn": {"Fn::GetAtt": [queue, "Arn"]},
        }]},
    })


def test_existing_bucket_is_not_created_but_still_notifies_the_queue(existing_synth: Synth) -> None:
    existing_synth.template.resource_count_is("AWS::S3::Bucket", 0)
    queue, _ = existing_synth.one("AWS::SQS::Queue", "Uploads")
    existing_synth.template.has_resource_properties("Custom::S3BucketNotifications", {
        "BucketName": "existing-i2v-bucket",
        # Managed false: notifications the bucket already has (from other stacks or by hand) are kept.
        "Managed": False,
        "NotificationConfiguration": {"QueueConfigurations": [Match.object_like({
            "Events": ["s3:ObjectCreated:*"], "QueueArn": {"Fn::GetAtt": [queue, "Arn"]}})]},
    })
    # S3 may send to the queue, from that bucket only.
    default_text = json.dumps(existing_synth.resources("AWS::SQS::QueuePolicy"))
    assert "s3.amazonaws.com" in default_text and "existing-i2v-bucket" in default_text


def test_destroy_empties_and_deletes_the_buckets(destroy_synth: Synth) -> None:
    for bucket in destroy_synth.resources("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Delete"
    destroy_synth.template.resource_count_is("Custom::S3AutoDeleteObjects", 2)
