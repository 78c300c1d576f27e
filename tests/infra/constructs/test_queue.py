"""JobQueue: the upload queue with its dead-letter queue, the dispatcher's wake queue, and how the
functions read them."""

from __future__ import annotations

import pytest
from infra_synth import Synth

from i2v import constants as c

pytestmark = pytest.mark.infra


def _queue(synth: Synth, name: str) -> dict:
    return dict(synth.resource("Queue", name)["Properties"])


def test_three_queues(default_synth: Synth) -> None:
    assert len(default_synth.resources("AWS::SQS::Queue")) == 3


def test_uploads_redrive_to_the_dlq_after_five_receives(default_synth: Synth) -> None:
    dlq = default_synth.logical("Queue", "DeadLetters")
    assert _queue(default_synth, "Uploads")["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]}, "maxReceiveCount": c.MAX_RECEIVE_COUNT}
    assert c.MAX_RECEIVE_COUNT == 5
    assert _queue(default_synth, "DeadLetters")["MessageRetentionPeriod"] == 14 * 24 * 3600
    # A message keeps its first enqueue time when it moves to the DLQ: the DLQ must keep it longer.
    assert _queue(default_synth, "Uploads")["MessageRetentionPeriod"] < 14 * 24 * 3600


def test_wake_queue_has_no_dead_letter_queue_and_says_why(default_synth: Synth) -> None:
    wake = default_synth.resource("Queue", "Wake")
    assert "RedrivePolicy" not in wake["Properties"]
    assert wake["Properties"]["MessageRetentionPeriod"] == 24 * 3600
    acknowledged = {r["id"] for r in wake["Metadata"]["cdk_nag"]["rules_to_suppress"]}
    assert acknowledged == {"AwsSolutions-SQS3"}
    for other in ("Uploads", "DeadLetters"):  # the acknowledgement is the wake queue's alone
        assert "cdk_nag" not in default_synth.resource("Queue", other).get("Metadata", {}), other


@pytest.mark.parametrize(("queue", "function"), [("Uploads", c.FN_INTAKE), ("Wake", c.FN_DISPATCH)])
def test_visibility_timeout_is_six_times_the_consumer_timeout(default_synth: Synth, queue: str, function: str) -> None:
    timeout = default_synth.function(function)["Timeout"]
    assert _queue(default_synth, queue)["VisibilityTimeout"] == c.VISIBILITY_TIMEOUT_FACTOR * timeout == 6 * timeout


def test_all_queues_are_encrypted_and_tls_only(default_synth: Synth) -> None:
    for logical, queue in default_synth.resources("AWS::SQS::Queue").items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") or props.get("KmsMasterKeyId"), logical
        policies = [p for p in default_synth.resources("AWS::SQS::QueuePolicy").values()
                    if {"Ref": logical} in p["Properties"]["Queues"]]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]), logical


def test_intake_reads_uploads_in_batches_with_partial_failures_and_two_pollers(default_synth: Synth) -> None:
    s = default_synth
    s.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": [s.logical("Queue", "Uploads"), "Arn"]},
        "FunctionName": {"Ref": s.function_id(c.FN_INTAKE)},
        "BatchSize": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 2},
    })


def test_dispatch_reads_wake_ups_batched_for_a_second(default_synth: Synth) -> None:
    s = default_synth
    s.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": [s.logical("Queue", "Wake"), "Arn"]},
        "FunctionName": {"Ref": s.function_id(c.FN_DISPATCH)},
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 1,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 2},
    })
    s.template.resource_count_is("AWS::Lambda::EventSourceMapping", 2)
