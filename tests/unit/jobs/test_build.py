"""From an uploaded object to a validated job, with an in-memory bucket (i2v.jobs.build)."""

from __future__ import annotations

import json

import pytest

from i2v import constants as c
from i2v.errors import JobError
from i2v.jobs import keys
from i2v.jobs.build import identify, prepare
from i2v.jobs.params import stack_defaults
from i2v.models import Job

UP, OUT = "uploads/", "outputs/"
STACK = stack_defaults({})


def job_for(bucket, key: str, version: str | None = None) -> Job:
    head = bucket.head(key)
    found = identify(
        bucket.bucket,
        key,
        version or (head.version_id if head else None),
        head.etag if head else None,
        UP,
        OUT,
    )
    assert isinstance(found, Job), found
    return found


def failure(job: Job, bucket, **kw) -> JobError:
    with pytest.raises(JobError) as info:
        prepare(job, bucket, UP, STACK, **kw)
    return info.value


# --- identify -----------------------------------------------------------------------------------


def test_identify_an_image_job():
    job = identify("media", "uploads/a/cat.png", "v1", "etag1", UP, OUT)
    assert isinstance(job, Job)
    assert job.job_id == keys.job_id_for("media", "uploads/a/cat.png", "v1")
    assert job.kind == keys.KIND_IMAGE
    assert (job.video_key, job.manifest_key) == ("outputs/a/cat.mp4", "outputs/a/cat.json")
    assert job.image_key == "uploads/a/cat.png"
    assert job.source.to_dict() == {
        "bucket": "media",
        "key": "uploads/a/cat.png",
        "version_id": "v1",
        "etag": "etag1",
    }


def test_identify_without_versioning_keys_the_job_by_etag():
    job = identify("media", "uploads/cat.png", None, "etag1", UP, OUT)
    assert job.job_id == keys.job_id_for("media", "uploads/cat.png", "etag1")
    assert job.job_id != identify("media", "uploads/cat.png", None, "etag2", UP, OUT).job_id


def test_identify_a_job_file_leaves_the_image_for_later():
    job = identify("media", "uploads/jobs/j.json", "v1", None, UP, OUT)
    assert job.kind == keys.KIND_JOB_FILE
    assert job.image_key is None


@pytest.mark.parametrize("key", ["uploads/_defaults.json", "outputs/cat.json", "uploads/readme.txt"])
def test_identify_says_why_something_is_no_job(key):
    decision = identify("media", key, None, None, UP, OUT)
    assert isinstance(decision, keys.KeyDecision)
    assert not decision.is_job and decision.reason


# --- image jobs ---------------------------------------------------------------------------------


def test_image_job_takes_its_parameters_from_metadata(bucket, image_data):
    bucket.put(
        "uploads/cat.png",
        image_data(640, 480),
        {
            "prompt": "a cat surfing",
            "mode": "Professional",
            "duration": "10",
            "guidance-scale": "0.8",
            "negative-prompt": "blur",
        },
    )
    job = job_for(bucket, "uploads/cat.png")
    prepared = prepare(job, bucket, UP, STACK)
    assert prepared.params.prompt == "a cat surfing"
    assert prepared.params.mode == "Professional"
    assert prepared.params.duration == 10
    assert prepared.params.guidance_scale == 0.8
    assert (prepared.image.format, prepared.image.width, prepared.image.height) == ("png", 640, 480)
    assert prepared.end_image is None
    assert job.request == {
        "mode": "Professional",
        "prompt": "a cat surfing",
        "negative_prompt": "blur",
        "duration": 10,
        "guidance_scale": 0.8,
        "end_image_key": None,
    }


def test_image_job_without_parameters_uses_the_stack_defaults(bucket, image_data):
    bucket.put("uploads/cat.jpg", image_data(640, 480, "JPEG"))
    prepared = prepare(job_for(bucket, "uploads/cat.jpg"), bucket, UP, STACK)
    assert prepared.params.prompt == c.DEFAULT_PROMPT
    assert (prepared.params.mode, prepared.params.duration, prepared.params.guidance_scale) == (
        c.DEFAULT_MODE,
        c.DEFAULT_DURATION,
        c.DEFAULT_GUIDANCE_SCALE,
    )


def test_metadata_passed_in_is_used_instead_of_a_head(bucket, image_data):
    bucket.put("uploads/cat.png", image_data(), {"prompt": "stored"})
    prepared = prepare(job_for(bucket, "uploads/cat.png"), bucket, UP, STACK, metadata={"prompt": "given"})
    assert prepared.params.prompt == "given"


def test_the_uploaded_version_is_inspected_not_a_later_overwrite(bucket, image_data):
    first = bucket.put("uploads/cat.png", image_data(640, 480))
    bucket.put("uploads/cat.png", image_data(100, 100))  # overwritten before the event is handled
    prepared = prepare(job_for(bucket, "uploads/cat.png", version=first), bucket, UP, STACK)
    assert (prepared.image.width, prepared.image.height) == (640, 480)


def test_end_image_from_metadata_is_relative_to_the_image(bucket, image_data):
    bucket.put("uploads/a/cat.png", image_data(), {"mode": "Professional", "end-image": "_frames/end.png"})
    bucket.put("uploads/a/_frames/end.png", image_data(640, 480, "JPEG"))
    prepared = prepare(job_for(bucket, "uploads/a/cat.png"), bucket, UP, STACK)
    assert prepared.params.end_image == "uploads/a/_frames/end.png"
    assert prepared.end_image.format == "jpeg"


def test_end_image_metadata_above_the_root_is_invalid(bucket, image_data):
    bucket.put("uploads/cat.png", image_data(), {"mode": "Professional", "end-image": "../../../x.png"})
    err = failure(job_for(bucket, "uploads/cat.png"), bucket)
    assert err.code == "INVALID_END_IMAGE"


# --- job files ----------------------------------------------------------------------------------


def test_job_file_with_relative_image_and_end_image(bucket, image_data):
    bucket.put("uploads/images/cat.png", image_data(800, 600))
    bucket.put("uploads/jobs/_frames/cat-end.png", image_data(800, 600))
    long_prompt = "a very detailed prompt " * 80  # longer than S3 metadata allows
    bucket.put(
        "uploads/jobs/cat.json",
        json.dumps(
            {
                "image": "../images/cat.png",
                "end_image": "_frames/cat-end.png",
                "mode": "Professional",
                "prompt": long_prompt.strip(),
                "duration": 10,
            }
        ).encode(),
    )
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


def test_job_file_with_unknown_keys(bucket):
    bucket.put("uploads/j.json", b'{"image": "cat.png", "promtp": "typo"}')
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "JOB_FILE_UNKNOWN_KEYS"
    assert "promtp" in err.message


def test_job_file_that_is_not_json(bucket):
    bucket.put("uploads/j.json", b"image: cat.png")
    assert failure(job_for(bucket, "uploads/j.json"), bucket).code == "INVALID_JOB_FILE"


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


@pytest.mark.parametrize("content", [b"{not json", b'{"image": "x.png"}', b'{"end_image": "e.png"}', b"[]"])
def test_an_invalid_defaults_file_fails_the_job(bucket, image_data, content):
    bucket.put("uploads/a/_defaults.json", content)
    bucket.put("uploads/a/cat.png", image_data())
    err = failure(job_for(bucket, "uploads/a/cat.png"), bucket)
    assert err.code == "INVALID_DEFAULTS_FILE"
    assert "uploads/a/_defaults.json" in err.message


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
    assert failure(job, bucket).code == "IMAGE_NOT_FOUND"


def test_missing_end_image(bucket, image_data):
    bucket.put("uploads/cat.png", image_data())
    bucket.put("uploads/j.json", b'{"image": "cat.png", "end_image": "gone.png", "mode": "Professional"}')
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "END_IMAGE_NOT_FOUND"
    assert "uploads/gone.png" in err.message


def test_bad_end_image_is_reported_as_the_end_image(bucket, image_data):
    bucket.put("uploads/cat.png", image_data())
    bucket.put("uploads/_frames/end.png", image_data(200, 200))
    bucket.put(
        "uploads/j.json", b'{"image": "cat.png", "end_image": "_frames/end.png", "mode": "Professional"}'
    )
    err = failure(job_for(bucket, "uploads/j.json"), bucket)
    assert err.code == "IMAGE_TOO_SMALL"
    assert "end image" in err.message


# --- what a failed job still tells ---------------------------------------------------------------


def test_invalid_parameters_leave_what_was_gathered_on_the_job(bucket, image_data):
    bucket.put("uploads/cat.png", image_data(), {"prompt": "a cat", "duration": "7"})
    job = job_for(bucket, "uploads/cat.png")
    err = failure(job, bucket)
    assert err.code == "INVALID_DURATION"
    assert job.request["prompt"] == "a cat"
    assert job.request["duration"] == "7"
    assert job.request["mode"] == c.DEFAULT_MODE
    assert set(job.request) == {
        "mode",
        "prompt",
        "negative_prompt",
        "duration",
        "guidance_scale",
        "end_image_key",
    }


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
