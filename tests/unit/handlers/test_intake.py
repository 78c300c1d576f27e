"""The intake handler's reading of SQS messages: S3 events through Powertools' data classes."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from i2v.aws.queue import message_attributes
from i2v.handlers.intake import uploads


def sqs_record(body: str, attributes: dict | None = None) -> SQSRecord:
    attrs = {k: {"stringValue": v["StringValue"], "dataType": v["DataType"]} for k, v in (attributes or {}).items()}
    return SQSRecord({"messageId": "m1", "receiptHandle": "r", "body": body, "attributes":
                      {"ApproximateReceiveCount": "1"}, "messageAttributes": attrs, "md5OfBody": "",
                      "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q", "awsRegion": "us-east-1"})


def s3_event(key: str, **obj: str) -> str:
    return json.dumps({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventTime": "2026-01-01T00:00:00.000Z",
                                    "eventName": "ObjectCreated:Put",
                                    "s3": {"bucket": {"name": "media", "arn": "arn:aws:s3:::media"},
                                           "object": {"key": key, "size": 1, **obj}}}]})


def test_an_s3_event_becomes_an_upload_with_its_key_decoded_version_and_sequencer():
    (upload,) = uploads(sqs_record(s3_event("uploads/red+shoe%C3%A9.png", eTag="e1", versionId="v1",
                                            sequencer="0A")))
    assert upload.key == "uploads/red shoeé.png" and upload.version_id == "v1" and upload.etag == "e1"
    assert upload.sequencer == "0A" and upload.event_time == "2026-01-01T00:00:00.000Z" and upload.redrive == 0


def test_an_operators_retry_carries_its_redrive_number():
    (upload,) = uploads(sqs_record(s3_event("uploads/a.png", eTag="e1"), message_attributes(redrive=3)))
    assert upload.redrive == 3 and upload.version_id is None and upload.sequencer is None


def test_s3s_test_event_is_no_upload():
    assert uploads(sqs_record(json.dumps({"Event": "s3:TestEvent"}))) == []


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"no": "records"})])
def test_a_message_that_is_not_an_s3_event_is_refused_with_a_reason(body):
    with pytest.raises(ValueError, match="expected an S3 event"):
        uploads(sqs_record(body))


def test_a_batch_files_own_messages_go_to_its_fan_out_and_its_rows(monkeypatch, batch_scene, clock, image_data):
    """A resume message continues the file's fan-out; a chunk message makes its rows jobs."""
    from i2v import constants as c
    from i2v.handlers import intake
    from i2v.steps.batch import CHUNK_KIND, RESUME_KIND
    from i2v.steps.intake import Outcome

    scene = batch_scene()
    monkeypatch.setattr(intake, "intake_deps", lambda: scene.deps)
    monkeypatch.setattr(intake, "intake_requeue", lambda: scene.rows.send)
    scene.bucket.put("uploads/i.png", image_data())
    total = 3 * c.BATCH_CHUNK_ROWS
    stop = iter([False, True])  # the fan-out's step ends after its first chunk
    scene.deps.clock = lambda: clock() + (c.BATCH_STEP_SECONDS if next(stop, True) else 0)
    assert scene.put("uploads/big.csv", ("image\n" + "i.png\n" * total).encode()) == Outcome.PARKED
    scene.deps.clock = clock
    assert [m["kind"] for m in scene.rows.sent] == [CHUNK_KIND, RESUME_KIND]
    resume = scene.rows.sent.pop()
    assert intake._outcomes(sqs_record(json.dumps(resume))) == [Outcome.PARKED]
    assert [m["kind"] for m in scene.rows.sent] == [CHUNK_KIND] * 3
    outcomes = [o for m in list(scene.rows.sent) for o in intake._outcomes(sqs_record(json.dumps(m)))]
    assert outcomes == [Outcome.PARKED] * total and scene.backlog.size() == total
