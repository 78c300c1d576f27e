"""The i2v.notification/v1 document and its SNS attributes (i2v.notification)."""

from __future__ import annotations

import json
import math

import pytest

from i2v.clock import parse_iso
from i2v.contracts.errors import DOCUMENTED_CODES, ErrorCode, ErrorDetail
from i2v.contracts.job import Job, JobKind, Pin, Source
from i2v.contracts.params import shown_request
from i2v.contracts.status import Stage
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
        "priority": "high",
        "reuse": True,
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
        "priority": None,
        "reuse": None,
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


def test_the_request_carries_the_priority_the_job_was_queued_with(notification_validator):
    for priority in ("high", "normal", "low"):
        job = {**JOB, "request": {**JOB["request"], "priority": priority}}
        note = success(job=job)
        assert note["request"]["priority"] == priority
        notification_validator.validate(note)


def test_a_failure_on_parameters_that_break_the_rules_still_fits_the_schema(notification_validator):
    shown = shown_request({"mode": "Fast", "prompt": ["not", "text"], "duration": "7", "guidance_scale": math.inf,
                           "priority": "urgent", "end_image": 5})
    note = failure(job={**JOB, "request": shown})
    assert note["request"]["priority"] == "urgent" and note["request"]["guidance_scale"] == "inf"
    notification_validator.validate(note)
    json.dumps(note, allow_nan=False)  # no NaN or Infinity in what subscribers parse


def test_the_cost_is_the_price_stamped_at_dispatch_and_zero_when_nothing_was_paid(notification_validator):
    assert success(job={**JOB, "price_usd": 0.95})["cost"] == {"estimated_usd": 0.95}
    assert success(job={**JOB, "price_usd": 0.123456})["cost"] == {"estimated_usd": 0.1235}
    assert success(job={**JOB, "price_usd": 0.0})["cost"] == {"estimated_usd": 0.0}  # a reused video
    assert failure(job={**JOB, "price_usd": None})["cost"] == {"estimated_usd": 0.0}  # never submitted
    assert "price_usd" not in JOB and success()["cost"] == {"estimated_usd": 0.0}
    for note in (success(job={**JOB, "price_usd": 0.26}), failure()):
        notification_validator.validate(note)


def test_a_reused_video_names_the_job_it_was_copied_from(notification_validator):
    origin = "fedcba9876543210fedcba9876543210"
    note = success(job={**JOB, "price_usd": 0.0}, reused_from=origin)
    assert note["reused_from"] == origin and note["cost"] == {"estimated_usd": 0.0}
    notification_validator.validate(note)
    assert "reused_from" not in success()  # absent, not null, when the video was made for this job
    with pytest.raises(Exception, match="does not match"):
        notification_validator.validate({**note, "reused_from": "job-1"})


def test_the_request_says_whether_reuse_was_allowed(notification_validator):
    for reuse in (True, False):
        note = success(job={**JOB, "request": {**JOB["request"], "reuse": reuse}})
        assert note["request"]["reuse"] is reuse
        notification_validator.validate(note)
    shown = shown_request({"reuse": "maybe"})  # a job that failed on INVALID_REUSE shows what was asked
    note = failure(job={**JOB, "request": shown}, error={**ERROR, "code": "INVALID_REUSE", "stage": "validate"})
    assert note["request"]["reuse"] == "maybe"
    notification_validator.validate(note)


def test_a_source_without_versioning_carries_the_etag_and_sequencer(notification_validator):
    source = Source("media", "uploads/a/cat.png", None, "d41d8cd98f00b204e9800998ecf8427e", "0055AED6DCD90281E5")
    note = failure(job={**JOB, "source": source.to_dict()})
    assert note["source"] == {"bucket": "media", "key": "uploads/a/cat.png",
                              "etag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}
    notification_validator.validate(note)


def test_a_notification_built_from_a_typed_job(notification_validator):
    job = Job(job_id=JOB["job_id"], kind=JobKind.IMAGE, source=Source("media", "uploads/a/cat.png", "v1"),
              video_key="outputs/a/cat.mp4", manifest_key="outputs/a/cat.json", image_key="uploads/a/cat.png",
              image_pin=Pin(version_id="v1"), request=JOB["request"], timings=JOB["timings"])
    error = ErrorDetail(code=ErrorCode.OBJECT_CHANGED, message="replaced", stage=Stage.VALIDATE)
    note = failure(job=job.to_dict(), error=error.to_dict())
    assert note["error"] == {"code": "OBJECT_CHANGED", "message": "replaced", "stage": "validate", "retryable": False}
    notification_validator.validate(note)


@pytest.mark.parametrize("code", sorted(DOCUMENTED_CODES))
def test_every_documented_code_fits_a_failure_notification(notification_validator, code):
    notification_validator.validate(failure(error={**ERROR, "code": code}))


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
        "schema": {"DataType": "String", "StringValue": "i2v.notification/v1"},
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
