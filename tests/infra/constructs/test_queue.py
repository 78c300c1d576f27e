"""JobQueue: the buffer with its dead-letter queue, and how the submit function reads it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.infra


def test_queue_redrives_to_the_dlq_after_five_receives(default_synth):
    dlq, dead_letters = default_synth.one("AWS::SQS::Queue", "DeadLetters")
    _, queue = default_synth.one("AWS::SQS::Queue", "Uploads")
    assert queue["Properties"]["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                                                    "maxReceiveCount": 5}
    assert dead_letters["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_visibility_timeout_is_six_times_the_submit_timeout(default_synth):
    _, queue = default_synth.one("AWS::SQS::Queue", "Uploads")
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * default_synth.function("Submit")["Timeout"]


def test_both_queues_are_encrypted_and_tls_only(default_synth):
    for logical, queue in default_synth.resources("AWS::SQS::Queue").items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") or props.get("KmsMasterKeyId"), logical
        policies = [p for p in default_synth.resources("AWS::SQS::QueuePolicy").values()
                    if {"Ref": logical} in p["Properties"]["Queues"]]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]), logical


def test_submit_reads_in_batches_with_partial_failures_and_two_pollers(default_synth):
    queue, _ = default_synth.one("AWS::SQS::Queue", "Uploads")
    submit, _ = default_synth.one("AWS::Lambda::Function", "FunctionsSubmit")
    default_synth.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]},
        "FunctionName": {"Ref": submit},
        "BatchSize": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 2},
    })
    default_synth.template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
