"""The i2v.notification/v1 document and its SNS attributes (i2v.notification)."""

from __future__ import annotations

import json

import pytest

from i2v.clock import parse_iso
from i2v.notification import FAILED, SUCCEEDED, build_notification, build_timings, message_attributes

JOB = {
    "job_id": "0123456789abcdef0123456789abcdef",
    "kind": "image",
    "source": {"bucket": "media", "key": "uploads/a/cat.png", "version_id": "v1", "etag": "e1"},
    "video_key": "outputs/a/cat.mp4",
    "manifest_key": "outputs/a/cat.json",
    "image_key": "uploads/a/cat.png",
    "request": {
        "mode": "Professional",
        "prompt": "a cat",
        "negative_prompt": None,
        "duration": 10,
        "guidance_scale": 0.5,
        "end_image_key": "uploads/a/_frames/end.png",
    },
    "timings": {
        "uploaded_at": "2026-01-01T00:00:00.000Z",
        "submitted_at": "2026-01-01T00:00:05.000Z",
        "completed_at": "2026-01-01T00:01:05.500Z",
    },
}
NOTIFIED = parse_iso("2026-01-01T00:01:10.000Z")
OUTPUT = {
    "bucket": "media",
    "key": "outputs/a/cat.mp4",
    "size_bytes": 12345,
    "url": "https://media.s3.example.com/outputs/a/cat.mp4?sig",
    "url_expires_at": "2026-01-08T00:01:10.000Z",
}
ERROR = {"code": "ILLEGAL_PROMPT", "message": "the prompt was refused", "stage": "submit", "retryable": False}
CONTRACT_FIELDS = {
    "schema",
    "status",
    "job_id",
    "source",
    "request",
    "provider",
    "output",
    "error",
    "timings",
}


def success(**kw):
    args = {
        "job": JOB,
        "status": SUCCEEDED,
        "task_id": "task-1",
        "provider_status": "TASK_STATUS_SUCCEED",
        "output": OUTPUT,
        "error": None,
        "notified_at": NOTIFIED,
    }
    return build_notification(**{**args, **kw})


def failure(**kw):
    args = {
        "job": JOB,
        "status": FAILED,
        "task_id": None,
        "provider_status": None,
        "output": None,
        "error": ERROR,
        "notified_at": NOTIFIED,
    }
    return build_notification(**{**args, **kw})


def test_success_has_every_contract_field(notification_validator):
    note = success()
    assert CONTRACT_FIELDS <= set(note)
    assert note["schema"] == "i2v.notification/v1"
    assert note["status"] == "SUCCEEDED"
    assert note["job_id"] == JOB["job_id"]
    assert note["source"] == JOB["source"]
    assert note["request"] == {**JOB["request"], "image_key": "uploads/a/cat.png"}
    assert note["provider"] == {"task_id": "task-1", "status": "TASK_STATUS_SUCCEED"}
    assert note["output"] == OUTPUT
    assert note["error"] is None
    notification_validator.validate(note)
    json.dumps(note)  # a JSON document, as published


def test_failure_has_every_contract_field(notification_validator):
    note = failure()
    assert CONTRACT_FIELDS <= set(note)
    assert note["status"] == "FAILED"
    assert note["output"] is None
    assert note["error"] == ERROR
    assert note["provider"] == {"task_id": None, "status": None}
    notification_validator.validate(note)


def test_failure_of_a_job_that_never_got_parameters(notification_validator):
    job = {**JOB, "request": None, "timings": {}}
    note = failure(job=job)
    assert note["request"] == {
        "mode": None,
        "prompt": None,
        "negative_prompt": None,
        "duration": None,
        "guidance_scale": None,
        "end_image_key": None,
        "image_key": "uploads/a/cat.png",
    }
    assert note["timings"]["uploaded_at"] is None
    notification_validator.validate(note)


@pytest.mark.parametrize(
    "kw",
    [
        {"status": "DONE", "output": OUTPUT, "error": None},
        {"status": SUCCEEDED, "output": None, "error": None},
        {"status": SUCCEEDED, "output": OUTPUT, "error": ERROR},
        {"status": FAILED, "output": None, "error": None},
        {"status": FAILED, "output": OUTPUT, "error": ERROR},
        {"status": FAILED, "output": OUTPUT, "error": None},
    ],
)
def test_inconsistent_input_is_refused(kw):
    with pytest.raises(ValueError):
        build_notification(job=JOB, task_id=None, provider_status=None, notified_at=NOTIFIED, **kw)


def test_timings_give_instants_and_durations():
    timings = success()["timings"]
    assert timings["uploaded_at"] == "2026-01-01T00:00:00.000Z"
    assert timings["notified_at"] == "2026-01-01T00:01:10.000Z"
    assert timings["queue_seconds"] == 5.0
    assert timings["generation_seconds"] == 60.5
    assert timings["total_seconds"] == 70.0


def test_durations_are_null_when_an_instant_is_missing():
    timings = build_timings({"uploaded_at": "2026-01-01T00:00:00.000Z"}, NOTIFIED)
    assert timings["submitted_at"] is None and timings["completed_at"] is None
    assert timings["queue_seconds"] is None and timings["generation_seconds"] is None
    assert timings["total_seconds"] == 70.0


def test_message_attributes_for_filtering():
    assert message_attributes(success()) == {
        "status": {"DataType": "String", "StringValue": "SUCCEEDED"},
        "mode": {"DataType": "String", "StringValue": "Professional"},
        "error_code": {"DataType": "String", "StringValue": "NONE"},
    }
    attrs = message_attributes(failure())
    assert attrs["status"]["StringValue"] == "FAILED"
    assert attrs["error_code"]["StringValue"] == "ILLEGAL_PROMPT"


def test_message_attributes_without_a_mode():
    attrs = message_attributes(failure(job={**JOB, "request": None}))
    assert attrs["mode"]["StringValue"] == "UNKNOWN"
    assert all(a["StringValue"] for a in attrs.values())  # SNS refuses empty attribute values
