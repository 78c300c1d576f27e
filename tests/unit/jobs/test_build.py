"""From an uploaded object to a validated job, on the in-memory bucket (i2v.jobs.build)."""

from __future__ import annotations

import hashlib
import json

import pytest

from i2v import constants as c
from i2v.contracts.errors import JobError, ObjectChanged
from i2v.contracts.job import Job, JobKind, Pin, Source, content_key
from i2v.contracts.params import stack_defaults
from i2v.contracts.status import Priority
from i2v.jobs import keys
from i2v.jobs.build import identify, prepare
from i2v.notification import FAILED, build_notification

UP, OUT = "uploads/", "outputs/"
STACK = stack_defaults({})


def source_of(bucket, key: str, version: str | None = None, sequencer: str | None = "0055AED6DCD90281E5") -> Source:
    """The Source an S3 event for the object's latest upload (or ``version``) would give."""
    head = bucket.head(key)
    return Source(bucket.bucket, key, version_id=version or (head.version_id if head else None),
                  etag=head.etag if head else None, sequencer=sequencer)


def job_for(bucket, key: str, version: str | None = None) -> Job:
    found = identify(source_of(bucket, key, version), UP, OUT)
    assert isinstance(found, Job), found
    return found


def failure(job: Job, bucket, defaults=STACK) -> JobError:
    with pytest.raises(JobError) as info:
        prepare(job, bucket, UP, defaults)
    return info.value


# --- identify -----------------------------------------------------------------------------------


def test_identify_an_image_job():
    job = identify(Source("media", "uploads/a/cat.png", "v1", "etag1", "seq1"), UP, OUT)
    assert isinstance(job, Job)
    assert job.job_id == keys.job_id_for("media", "uploads/a/cat.png", "v1")  # the version id alone names it
    assert job.kind is JobKind.IMAGE
    assert (job.video_key, job.manifest_key) == ("outputs/a/cat.mp4", "outputs/a/cat.json")
    assert job.image_key == "uploads/a/cat.png"
    assert job.source.to_dict() == {"bucket": "media", "key": "uploads/a/cat.png", "version_id": "v1",
                                    "etag": "etag1", "sequencer": "seq1"}


def test_without_versioning_the_job_is_keyed_by_etag_and_the_events_sequencer():
    first = identify(Source("media", "uploads/cat.png", None, "etag1", "seq1"), UP, OUT)
    assert first.job_id == keys.job_id_for("media", "uploads/cat.png", "etag1@seq1")
    # the same bytes uploaded again: same ETag, a later sequencer -> a job of its own
    again = identify(Source("media", "uploads/cat.png", None, "etag1", "seq2"), UP, OUT)
    assert again.job_id != first.job_id
    # a redelivery of the same event -> the same job
    assert identify(Source("media", "uploads/cat.png", None, "etag1", "seq1"), UP, OUT).job_id == first.job_id


def test_without_versioning_or_sequencer_the_etag_keys_the_job():
    job = identify(Source("media", "uploads/cat.png", None, "etag1"), UP, OUT)
    assert job.job_id == keys.job_id_for("media", "uploads/cat.png", "etag1")
    assert job.job_id != identify(Source("media", "uploads/cat.png", None, "etag2"), UP, OUT).job_id


def test_a_new_version_of_the_same_key_is_a_new_job():
    one = identify(Source("media", "uploads/cat.png", "v1", "e"), UP, OUT)
    two = identify(Source("media", "uploads/cat.png", "v2", "e"), UP, OUT)
    assert one.job_id != two.job_id
    assert (one.video_key, one.manifest_key) == (two.video_key, two.manifest_key)


def test_identify_a_job_file_leaves_the_image_for_later():
    job = identify(Source("media", "uploads/jobs/j.json", "v1"), UP, OUT)
    assert job.kind is JobKind.JOB_FILE
    assert job.image_key is None


@pytest.mark.parametrize("key", ["uploads/_defaults.json", "outputs/cat.json", "uploads/readme.txt",
                                 "uploads/_frames/end.png", "uploads/folder/", "elsewhere/cat.png"])
def test_identify_says_why_something_is_no_job(key):
    decision = identify(Source("media", key), UP, OUT)
    assert isinstance(decision, keys.KeyDecision)
    assert not decision.is_job and decision.reason


# --- image jobs ---------------------------------------------------------------------------------


def test_image_job_takes_its_parameters_from_metadata(bucket, image_data):
    bucket.put("uploads/cat.png", image_data(640, 480), {"prompt": "a cat surfing", "mode": "Professional",
                                                         "duration": "10", "guidance-scale": "0.8",
                                                         "negative-prompt": "blur", "priority": "HIGH"})
    job = job_for(bucket, "uploads/cat.png")
    prepared = prepare(job, bucket, UP, STACK)
    assert prepared.params.prompt == "a cat surfing"
    assert prepared.params.mode == "Professional"
    assert prepared.params.duration == 10
    assert prepared.params.guidance_scale == 0.8
    assert prepared.params.priority is Priority.HIGH
    assert (prepared.image.format, prepared.image.width, prepared.image.height) == ("png", 640, 480)
    assert prepared.end_image is None
    assert job.request == {"mode": "Professional", "prompt": "a cat surfing", "negative_prompt": "blur",
                           "duration": 10, "guidance_scale": 0.8, "end_image_key": None, "priority": "high",
                           "reuse": True}


def test_image_job_without_parameters_uses_the_stack_defaults(bucket, image_data):
    bucket.put("uploads/cat.jpg", image_data(640, 480, "JPEG"))
    prepared = prepare(job_for(bucket, "uploads/cat.jpg"), bucket, UP, STACK)
    assert prepared.params.prompt == c.DEFAULT_PROMPT
    assert (prepared.params.mode, prepared.params.duration, prepared.params.guidance_scale) == (
        c.DEFAULT_MODE, c.DEFAULT_DURATION, c.DEFAULT_GUIDANCE_SCALE)
    assert prepared.params.priority is Priority.NORMAL


def test_the_stack_defaults_given_are_used(bucket, image_data):
    bucket.put("uploads/cat.png", image_data())
    prepared = prepare(job_for(bucket, "uploads/cat.png"), bucket, UP,
                       stack_defaults({"prompt": "house style", "duration": 10, "priority": "low"}))
    assert (prepared.params.prompt, prepared.params.duration, prepared.params.priority) == (
        "house style", 10, Priority.LOW)


def test_an_image_job_reads_one_head_per_object_it_looks_at(bucket, image_data, meter):
    bucket.put("uploads/a/cat.png", image_data())
    job = job_for(bucket, "uploads/a/cat.png")
    meter.counts.clear()
    prepare(job, bucket, UP, STACK)
    # the source once (its HEAD is reused for the start frame), then each _defaults.json candidate
    assert meter.counts["s3.HeadObject"] == 1 + len(keys.defaults_candidates("uploads/a/cat.png", UP))
    assert all(key == "uploads/a/cat.png" for key, _start, _end in bucket.reads)
    assert sum(end - start + 1 for _key, start, end in bucket.reads) < 64 * 1024  # the header, not the image


def test_end_image_from_metadata_is_relative_to_the_image(bucket, image_data):
    bucket.put("uploads/a/cat.png", image_data(), {"mode": "Professional", "end-image": "_frames/end.png"})
    end_version = bucket.put("uploads/a/_frames/end.png", image_data(640, 480, "JPEG"))
    job = job_for(bucket, "uploads/a/cat.png")
    prepared = prepare(job, bucket, UP, STACK)
    assert prepared.params.end_image == "uploads/a/_frames/end.png"
    assert prepared.end_image.format == "jpeg"
    assert job.end_image_pin == Pin(version_id=end_version)
    assert job.request["end_image_key"] == "uploads/a/_frames/end.png"


def test_end_image_metadata_above_the_root_is_invalid(bucket, image_data):
    bucket.put("uploads/cat.png", image_data(), {"mode": "Professional", "end-image": "../../../x.png"})
    err = failure(job_for(bucket, "uploads/cat.png"), bucket)
    assert err.code == "INVALID_END_IMAGE"
    assert "above the bucket root" in err.message
    assert "metadata" in err.message and "job file" not in err.message  # it came from metadata


def test_end_image_metadata_outside_the_uploads_prefix_is_invalid(bucket, image_data):
    bucket.put("uploads/cat.png", image_data(), {"mode": "Professional", "end-image": "../outputs/x.png"})
    err = failure(job_for(bucket, "uploads/cat.png"), bucket)
    assert err.code == "INVALID_END_IMAGE"
    assert "'outputs/x.png'" in err.message and "expected a key under uploads/" in err.message
    assert "metadata" in err.message and "job file" not in err.message


# --- pins: a job reads only the object version it was made for ----------------------------------


def test_an_overwrite_after_the_event_does_not_change_what_the_job_reads(bucket, image_data):
    first = bucket.put("uploads/cat.png", image_data(640, 480), {"prompt": "the first upload"})
    job = job_for(bucket, "uploads/cat.png", version=first)
    bucket.put("uploads/cat.png", image_data(100, 100), {"prompt": "the second upload"})  # before the event is handled
    prepared = prepare(job, bucket, UP, STACK)
    assert (prepared.image.width, prepared.image.height) == (640, 480)
    assert prepared.params.prompt == "the first upload"
    assert job.image_pin == Pin(version_id=first)


def test_a_job_file_reads_its_own_version(bucket, image_data):
    bucket.put("uploads/cat.png", image_data())
    first = bucket.put("uploads/j.json", b'{"image": "cat.png", "prompt": "first"}')
    job = job_for(bucket, "uploads/j.json", version=first)
    bucket.put("uploads/j.json", b'{"image": "cat.png", "prompt": "second"}')
    assert prepare(job, bucket, UP, STACK).params.prompt == "first"


def test_a_job_files_image_is_pinned_to_the_version_that_was_checked(bucket, image_data):
    checked = bucket.put("uploads/cat.png", image_data(640, 480))
    bucket.put("uploads/j.json", b'{"image": "cat.png"}')
    job = job_for(bucket, "uploads/j.json")
    prepare(job, bucket, UP, STACK)
    assert job.image_pin == Pin(version_id=checked)
    assert job.to_dict()["image_pin"] == {"version_id": checked}


def test_in_an_unversioned_bucket_a_replaced_image_fails_with_object_changed(fakes, image_data):
    bucket = fakes.Bucket("media", versioned=False)
    bucket.put("uploads/cat.png", image_data(640, 480))
    job = job_for(bucket, "uploads/cat.png")
    assert job.source.version_id is None and job.source.pin == Pin(etag=job.source.etag)
    bucket.put("uploads/cat.png", image_data(700, 500))  # replaced before the event is handled
    err = failure(job, bucket)
    assert isinstance(err, ObjectChanged)
    assert err.code == "OBJECT_CHANGED"
    assert "uploads/cat.png" in err.message and job.source.etag in err.message


def test_in_an_unversioned_bucket_a_replaced_job_file_fails_with_object_changed(fakes, image_data):
    bucket = fakes.Bucket("media", versioned=False)
    bucket.put("uploads/cat.png", image_data())
    bucket.put("uploads/j.json", b'{"image": "cat.png", "prompt": "first"}')
    job = job_for(bucket, "uploads/j.json")
    bucket.put("uploads/j.json", b'{"image": "cat.png", "prompt": "second"}')
    assert failure(job, bucket).code == "OBJECT_CHANGED"


def test_in_an_unversioned_bucket_the_same_bytes_uploaded_again_still_read(fakes, image_data):
    bucket = fakes.Bucket("media", versioned=False)
    data = image_data(640, 480)
    bucket.put("uploads/cat.png", data)
    job = job_for(bucket, "uploads/cat.png")
    bucket.put("uploads/cat.png", data)  # same ETag: these are the bytes the job was made for
    prepared = prepare(job, bucket, UP, STACK)
    assert prepared.image.width == 640
    assert job.image_pin == Pin(etag=job.source.etag)


# --- job files ----------------------------------------------------------------------------------


def test_job_file_with_relative_image_and_end_image(bucket, image_data):
    bucket.put("uploads/images/cat.png", image_data(800, 600))
    bucket.put("uploads/jobs/_frames/cat-end.png", image_data(800, 600))
    long_prompt = "a very detailed prompt " * 80  # longer than S3 metadata allows
    bucket.put("uploads/jobs/cat.json", json.dumps({
        "image": "../images/cat.png", "end_image": "_frames/cat-end.png", "mode": "Professional",
        "prompt": long_prompt.strip(), "duration": 10}).encode())
    job = job_for(bucket, "uploads/jobs/cat.json")
    prepared = prepare(job, bucket, UP, STACK)
    assert job.image_key == "uploads/images/cat.png"
    assert prepared.params.end_image == "uploads/jobs/_frames/cat-end.png"
    assert prepared.params.prompt == long_prompt.strip()
    assert prepared.params.duration == 10
    assert (prepared.image.width, prepared.end_image.width) == (800, 800)
    assert job.request["end_image_key"] == "uploads/jobs/_frames/cat-end.png"


def test_job_file_without_image(bucket):
    bucket.put("uploads/j.json", b'{"prompt": "no image"}')
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "INVALID_JOB_FILE"
    assert '"image"' in err.message and "expected" in err.message


def test_job_file_pointing_above_the_bucket_root(bucket):
    bucket.put("uploads/j.json", b'{"image": "../../cat.png"}')
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "INVALID_JOB_FILE"
    assert "above the bucket root" in err.message


def test_job_file_pointing_outside_the_uploads_prefix(bucket):
    bucket.put("uploads/j.json", b'{"image": "/outputs/cat.png"}')
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "INVALID_JOB_FILE"
    assert "'outputs/cat.png'" in err.message and "expected a key under uploads/" in err.message


def test_job_file_with_unknown_keys(bucket):
    bucket.put("uploads/j.json", b'{"image": "cat.png", "promtp": "typo"}')
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "JOB_FILE_UNKNOWN_KEYS"
    assert "promtp" in err.message


def test_job_file_that_is_not_json(bucket):
    bucket.put("uploads/j.json", b"image: cat.png")
    assert failure(job_for(bucket, "uploads/j.json"), bucket).code == "INVALID_JOB_FILE"


def test_an_empty_job_file_fails_with_invalid_job_file(bucket):
    bucket.put("uploads/j.json", b"")
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "INVALID_JOB_FILE"
    assert err.message.startswith("job file uploads/j.json is empty; expected a JSON object")


def test_a_job_file_deleted_before_the_event_is_handled(bucket):
    bucket.versioned = False  # with versions, the job's own version outlives the delete (next test)
    bucket.put("uploads/j.json", b'{"image": "cat.png"}')
    job = job_for(bucket, "uploads/j.json")
    bucket.delete("uploads/j.json")
    err = failure(job, bucket)
    assert err.code == "INVALID_JOB_FILE"
    assert "uploads/j.json no longer exists" in err.message


def test_a_deleted_upload_is_still_read_by_its_version_where_the_bucket_keeps_versions(bucket, image_data):
    bucket.put("uploads/cat.png", image_data())
    bucket.put("uploads/j.json", b'{"image": "cat.png", "prompt": "still here"}')
    job = job_for(bucket, "uploads/j.json")
    bucket.delete("uploads/j.json")  # S3 adds a delete marker; the version the event named is still there
    assert not bucket.has("uploads/j.json")
    assert prepare(job, bucket, UP, STACK).params.prompt == "still here"


# --- priority -----------------------------------------------------------------------------------


def test_priority_from_the_job_file(bucket, image_data):
    bucket.put("uploads/cat.png", image_data())
    bucket.put("uploads/j.json", b'{"image": "cat.png", "priority": "Low"}')
    job = job_for(bucket, "uploads/j.json")
    assert prepare(job, bucket, UP, STACK).params.priority is Priority.LOW
    assert job.request["priority"] == "low"


def test_priority_from_the_defaults_file(bucket, image_data):
    bucket.put("uploads/vip/_defaults.json", b'{"priority": "high"}')
    bucket.put("uploads/vip/cat.png", image_data())
    assert prepare(job_for(bucket, "uploads/vip/cat.png"), bucket, UP, STACK).params.priority is Priority.HIGH


def test_the_objects_own_priority_beats_the_defaults_file(bucket, image_data):
    bucket.put("uploads/_defaults.json", b'{"priority": "high"}')
    bucket.put("uploads/cat.png", image_data(), {"priority": "low"})
    assert prepare(job_for(bucket, "uploads/cat.png"), bucket, UP, STACK).params.priority is Priority.LOW


def test_an_unknown_priority_fails_the_job_and_shows_what_was_asked(bucket, image_data):
    bucket.put("uploads/cat.png", image_data(), {"priority": "urgent"})
    job = job_for(bucket, "uploads/cat.png")
    err = failure(job, bucket)
    assert err.code == "INVALID_PRIORITY"
    assert "'urgent'" in err.message and "expected one of high, normal, low" in err.message
    assert job.request["priority"] == "urgent"


# --- _defaults.json -----------------------------------------------------------------------------


def test_nearest_defaults_file_is_used(bucket, image_data):
    bucket.put("uploads/_defaults.json", b'{"prompt": "root prompt", "duration": 10}')
    bucket.put("uploads/a/_defaults.json", b'{"prompt": "folder a prompt"}')
    bucket.put("uploads/a/b/cat.png", image_data())
    bucket.put("uploads/c/dog.png", image_data())
    in_a = prepare(job_for(bucket, "uploads/a/b/cat.png"), bucket, UP, STACK)
    in_c = prepare(job_for(bucket, "uploads/c/dog.png"), bucket, UP, STACK)
    assert in_a.params.prompt == "folder a prompt"
    assert in_a.params.duration == c.DEFAULT_DURATION  # only the nearest file counts, not a merge of all
    assert (in_c.params.prompt, in_c.params.duration) == ("root prompt", 10)


def test_metadata_beats_the_defaults_file(bucket, image_data):
    bucket.put("uploads/_defaults.json", b'{"prompt": "folder", "mode": "Professional"}')
    bucket.put("uploads/cat.png", image_data(), {"prompt": "own"})
    prepared = prepare(job_for(bucket, "uploads/cat.png"), bucket, UP, STACK)
    assert (prepared.params.prompt, prepared.params.mode) == ("own", "Professional")


def test_job_file_beats_the_defaults_file(bucket, image_data):
    bucket.put("uploads/_defaults.json", b'{"prompt": "folder", "duration": 10}')
    bucket.put("uploads/cat.png", image_data())
    bucket.put("uploads/j.json", b'{"image": "cat.png", "prompt": "own"}')
    prepared = prepare(job_for(bucket, "uploads/j.json"), bucket, UP, STACK)
    assert (prepared.params.prompt, prepared.params.duration) == ("own", 10)


@pytest.mark.parametrize("content", [b"{not json", b'{"image": "x.png"}', b'{"end_image": "e.png"}', b"[]", b"",
                                     b"  \n"])
def test_an_invalid_defaults_file_fails_the_job(bucket, image_data, content):
    bucket.put("uploads/a/_defaults.json", content)
    bucket.put("uploads/a/cat.png", image_data())
    err = failure(job_for(bucket, "uploads/a/cat.png"), bucket)
    assert err.code == "INVALID_DEFAULTS_FILE"
    assert "uploads/a/_defaults.json" in err.message


def test_an_empty_defaults_file_says_it_is_empty(bucket, image_data):
    bucket.put("uploads/_defaults.json", b"")
    bucket.put("uploads/cat.png", image_data())
    err = failure(job_for(bucket, "uploads/cat.png"), bucket)
    assert err.code == "INVALID_DEFAULTS_FILE"
    assert err.message.startswith("defaults file uploads/_defaults.json is empty")


# --- keys that do not mean one thing to every URL client ------------------------------------------


@pytest.mark.parametrize("key", ["uploads/a/../cat.png", "uploads/./cat.png", "uploads/a//cat.png"])
def test_an_upload_key_with_dot_or_empty_segments_fails_with_invalid_key(bucket, image_data, key):
    bucket.put(key, image_data())
    job = job_for(bucket, key)
    err = failure(job, bucket)
    assert err.code == "INVALID_KEY"
    assert repr(key) in err.message
    assert bucket.reads == []  # refused before a byte was read


@pytest.mark.parametrize("key", ["uploads/cat\x07.png", "uploads/cat\n.png", "uploads/a\\b.png", "uploads/\x7f.png"])
def test_an_upload_key_with_a_control_character_or_backslash_fails_with_invalid_key(bucket, image_data, key):
    bucket.put(key, image_data())
    err = failure(job_for(bucket, key), bucket)
    assert err.code == "INVALID_KEY"
    assert "control character or backslash" in err.message


@pytest.mark.parametrize("reference", ["cat\\1.png", "cat\x07.png", "cat\t.png"])
def test_a_job_files_image_key_with_a_control_character_fails_with_invalid_key(bucket, image_data, reference):
    bucket.put("uploads/j.json", json.dumps({"image": reference}).encode())
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "INVALID_KEY"
    assert err.message.startswith("the image key ")


def test_an_end_image_key_with_a_control_character_fails_with_invalid_key(bucket, image_data):
    bucket.put("uploads/cat.png", image_data())
    bucket.put("uploads/j.json", b'{"image": "cat.png", "end_image": "end\\u001b.png", "mode": "Professional"}')
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "INVALID_KEY"
    assert err.message.startswith("the end image key ")


@pytest.mark.parametrize("field", ["image", "end_image"])
def test_a_key_with_a_lone_surrogate_fails_and_leaves_a_publishable_job(bucket, image_data, field):
    bucket.put("uploads/cat.png", image_data())
    doc = {"image": "cat.png", "mode": "Professional", field: "\ud800.png"}
    bucket.put("uploads/j.json", json.dumps(doc).encode())  # the file holds the escape \ud800, valid JSON
    job = job_for(bucket, "uploads/j.json")
    err = failure(job, bucket)
    assert err.code == "INVALID_KEY"
    assert "not valid Unicode" in err.message
    # the failure notification carries the job: it must still encode as UTF-8 JSON (the manifest, SNS)
    json.dumps(job.to_dict(), ensure_ascii=False).encode("utf-8")


# --- missing images -----------------------------------------------------------------------------


def test_job_file_whose_image_is_missing(bucket):
    bucket.put("uploads/j.json", b'{"image": "nope.png", "prompt": "p"}')
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "IMAGE_NOT_FOUND"
    assert "uploads/nope.png" in err.message


def test_image_deleted_before_the_event_is_handled(bucket, image_data):
    bucket.put("uploads/cat.png", image_data())
    job = job_for(bucket, "uploads/cat.png")
    bucket.objects.clear()
    err = failure(job, bucket)
    assert err.code == "IMAGE_NOT_FOUND"
    assert "uploads/cat.png no longer exists" in err.message


def test_missing_end_image(bucket, image_data):
    bucket.put("uploads/cat.png", image_data())
    bucket.put("uploads/j.json", b'{"image": "cat.png", "end_image": "gone.png", "mode": "Professional"}')
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "END_IMAGE_NOT_FOUND"
    assert "uploads/gone.png" in err.message


def test_bad_end_image_is_reported_as_the_end_image(bucket, image_data):
    bucket.put("uploads/cat.png", image_data())
    bucket.put("uploads/_frames/end.png", image_data(200, 200))
    bucket.put("uploads/j.json", b'{"image": "cat.png", "end_image": "_frames/end.png", "mode": "Professional"}')
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "IMAGE_TOO_SMALL"
    assert "end image" in err.message


# --- what a failed job still tells ---------------------------------------------------------------


def test_invalid_parameters_leave_what_was_gathered_on_the_job(bucket, image_data):
    bucket.put("uploads/cat.png", image_data(), {"prompt": "a cat", "duration": "7"})
    job = job_for(bucket, "uploads/cat.png")
    err = failure(job, bucket)
    assert err.code == "INVALID_DURATION"
    assert job.request == {"mode": c.DEFAULT_MODE, "prompt": "a cat", "negative_prompt": None, "duration": "7",
                           "guidance_scale": c.DEFAULT_GUIDANCE_SCALE, "end_image_key": None, "priority": "normal",
                           "reuse": True}


def test_numbers_where_text_belongs_fail_and_the_notification_still_fits_the_schema(bucket, image_data,
                                                                                   notification_validator):
    bucket.put("uploads/cat.png", image_data())
    bucket.put("uploads/j.json", b'{"image": "cat.png", "prompt": 42, "mode": 1, "priority": 2.5}')
    job = job_for(bucket, "uploads/j.json")
    err = failure(job, bucket)
    assert err.code == "INVALID_MODE"
    assert (job.request["prompt"], job.request["mode"], job.request["priority"]) == ("42", "1", "2.5")
    note = build_notification(job=job.to_dict(), status=FAILED, task_id=None, provider_status=None, output=None,
                              error=err.to_dict(), notified_at=0.0)
    notification_validator.validate(note)


def test_a_bad_image_leaves_the_validated_request_on_the_job(bucket, image_data):
    bucket.put("uploads/cat.png", image_data(3000, 1000), {"prompt": "wide"})
    job = job_for(bucket, "uploads/cat.png")
    err = failure(job, bucket)
    assert err.code == "IMAGE_ASPECT_RATIO"
    assert job.request["prompt"] == "wide"
    assert job.request["duration"] == c.DEFAULT_DURATION


def test_a_gif_named_png_fails_before_anything_is_spent(bucket, image_data):
    bucket.put("uploads/cat.png", image_data(400, 400, "GIF"))
    assert failure(job_for(bucket, "uploads/cat.png"), bucket).code == "IMAGE_FORMAT_UNSUPPORTED"


def test_an_empty_image_fails_with_image_empty(bucket):
    bucket.put("uploads/cat.png", b"")
    assert failure(job_for(bucket, "uploads/cat.png"), bucket).code == "IMAGE_EMPTY"


# --- pay once per content: the content key computed at intake --------------------------------------


def _key_of(bucket, key: str):
    job = job_for(bucket, key)
    prepare(job, bucket, UP, STACK)
    return job.content_key


def test_the_same_bytes_and_request_under_any_key_have_one_content_key(bucket, image_data):
    data = image_data(640, 480)
    for key in ("uploads/cat.png", "uploads/renamed.png", "uploads/other/folder/cat.png"):
        bucket.put(key, data, {"prompt": "a cat"})
    bucket.put("uploads/cat.png", data, {"prompt": "a cat"})  # the same key again: a new version, a new job
    keys_seen = {_key_of(bucket, k) for k in ("uploads/cat.png", "uploads/renamed.png", "uploads/other/folder/cat.png")}
    assert len(keys_seen) == 1 and None not in keys_seen
    assert job_for(bucket, "uploads/cat.png").job_id != job_for(bucket, "uploads/cat.png", "v1").job_id


def test_the_content_key_is_of_the_bytes_and_the_effective_request(bucket, image_data):
    bucket.put("uploads/a.png", image_data(640, 480), {"prompt": "a cat"})
    job = job_for(bucket, "uploads/a.png")
    prepared = prepare(job, bucket, UP, STACK)
    image_sha = hashlib.sha256(bucket.data("uploads/a.png")).hexdigest()
    assert job.content_key == content_key(image_sha, None, prepared.params.content_request())
    assert prepared.params.content_request() == {"mode": "Standard", "prompt": "a cat", "negative_prompt": None,
                                                 "duration": 5, "guidance_scale": 0.5}


@pytest.mark.parametrize("meta", [{"prompt": "a dog"}, {"mode": "Professional"}, {"duration": "10"},
                                  {"guidance-scale": "0.7"}, {"negative-prompt": "blur"}])
def test_any_parameter_changes_the_content_key(bucket, image_data, meta):
    bucket.put("uploads/a.png", image_data(), {"prompt": "a cat"})
    bucket.put("uploads/b.png", image_data(), {"prompt": "a cat", **meta})
    assert _key_of(bucket, "uploads/a.png") != _key_of(bucket, "uploads/b.png")


def test_priority_and_reuse_do_not_change_the_content_key(bucket, image_data):
    bucket.put("uploads/a.png", image_data(), {"prompt": "a cat"})
    bucket.put("uploads/b.png", image_data(), {"prompt": "a cat", "priority": "high", "reuse": "true"})
    assert _key_of(bucket, "uploads/a.png") == _key_of(bucket, "uploads/b.png")


def test_a_default_that_comes_from_a_folder_counts_like_one_given_in_metadata(bucket, image_data):
    bucket.put("uploads/a/_defaults.json", b'{"prompt": "a cat", "duration": 10}')
    bucket.put("uploads/a/cat.png", image_data())
    bucket.put("uploads/b/cat.png", image_data(), {"prompt": "a cat", "duration": "10"})
    assert _key_of(bucket, "uploads/a/cat.png") == _key_of(bucket, "uploads/b/cat.png")


def test_other_bytes_change_the_content_key(bucket, image_data):
    bucket.put("uploads/a.png", image_data(640, 480))
    bucket.put("uploads/b.png", image_data(640, 482))
    assert _key_of(bucket, "uploads/a.png") != _key_of(bucket, "uploads/b.png")


def test_the_end_frame_bytes_are_part_of_the_content_key(bucket, image_data):
    bucket.put("uploads/cat.png", image_data())
    bucket.put("uploads/_frames/end1.png", image_data(640, 480, "JPEG"))
    bucket.put("uploads/_frames/end2.png", image_data(640, 480, "JPEG", quality=40))
    bucket.put("uploads/_frames/end1-copy.png", bucket.data("uploads/_frames/end1.png"))
    for name, end in (("none", None), ("one", "end1.png"), ("two", "end2.png"), ("copy", "end1-copy.png")):
        body = {"image": "cat.png", "prompt": "p", "mode": "Professional", **({"end_image": f"_frames/{end}"} if end else {})}
        bucket.put(f"uploads/{name}.json", json.dumps(body).encode())
    found = {name: _key_of(bucket, f"uploads/{name}.json") for name in ("none", "one", "two", "copy")}
    assert len({found["none"], found["one"], found["two"]}) == 3
    assert found["one"] == found["copy"]  # the end frame's bytes count, not its name


def test_the_content_key_reads_the_pinned_version(bucket, image_data):
    bucket.put("uploads/a.png", image_data(640, 480), {"prompt": "p"})
    job = job_for(bucket, "uploads/a.png")  # the first version's event
    bucket.put("uploads/a.png", image_data(800, 600), {"prompt": "p"})  # replaced before intake ran
    prepare(job, bucket, UP, STACK)
    first = hashlib.sha256(bucket.objects["uploads/a.png"][0].data).hexdigest()
    assert job.content_key == content_key(first, None, {"mode": "Standard", "prompt": "p", "negative_prompt": None,
                                                        "duration": 5, "guidance_scale": 0.5})


@pytest.mark.parametrize("where", ["metadata", "job file", "defaults file", "stack"])
def test_reuse_false_leaves_the_job_without_a_content_key_and_reads_no_bytes(bucket, image_data, meter, where):
    defaults = STACK
    bucket.put("uploads/cat.png", image_data(), {"reuse": "false"} if where == "metadata" else {})
    key = "uploads/cat.png"
    if where == "job file":
        bucket.put("uploads/j.json", b'{"image": "cat.png", "prompt": "p", "reuse": false}')
        key = "uploads/j.json"
    elif where == "defaults file":
        bucket.put("uploads/_defaults.json", b'{"reuse": false}')
    elif where == "stack":
        defaults = stack_defaults({"reuse": False})
    job = job_for(bucket, key)
    meter.counts.clear()
    prepared = prepare(job, bucket, UP, defaults)
    assert prepared.params.reuse is False and job.request["reuse"] is False
    assert job.content_key is None
    # the image's header and trailer, and the job file or defaults file it read; no whole read for a digest
    assert meter.counts["s3.GetObject"] == 2 + (where in ("job file", "defaults file"))


def test_reuse_true_reads_each_image_once_more_for_its_digest(bucket, image_data, meter):
    bucket.put("uploads/cat.png", image_data())
    bucket.put("uploads/_frames/end.png", image_data())
    bucket.put("uploads/j.json", b'{"image": "cat.png", "end_image": "_frames/end.png", "prompt": "p", "mode": "Professional"}')
    job = job_for(bucket, "uploads/j.json")
    meter.counts.clear()
    prepare(job, bucket, UP, STACK)
    bucket.put("uploads/k.json", b'{"image": "cat.png", "end_image": "_frames/end.png", "prompt": "p", "reuse": "no", "mode": "Professional"}')
    other = job_for(bucket, "uploads/k.json")
    before = meter.counts["s3.GetObject"]
    prepare(other, bucket, UP, STACK)
    assert before - (meter.counts["s3.GetObject"] - before) == 2  # one whole read of each image
    assert job.content_key is not None and other.content_key is None


@pytest.mark.parametrize("value", ["maybe", "2", 1, 0, [], {"a": 1}])
def test_a_reuse_that_is_neither_true_nor_false_fails_the_job(bucket, image_data, value):
    bucket.put("uploads/cat.png", image_data())
    bucket.put("uploads/j.json", json.dumps({"image": "cat.png", "prompt": "p", "reuse": value}).encode())
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "INVALID_REUSE" and "reuse is" in err.message
