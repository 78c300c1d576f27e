"""The job as it travels between the functions: its source, pins and fields (i2v.contracts.job)."""

from __future__ import annotations

import hashlib
import json

import pytest

from i2v.contracts.job import Job, JobKind, Pin, Source, content_key


def through_json(data):
    return json.loads(json.dumps(data))


# --- Source --------------------------------------------------------------------------------------


def test_source_leaves_out_what_is_unknown():
    assert Source("media", "uploads/cat.png").to_dict() == {"bucket": "media", "key": "uploads/cat.png"}
    assert Source("media", "k", "v1", "e1", "seq1").to_dict() == {
        "bucket": "media", "key": "k", "version_id": "v1", "etag": "e1", "sequencer": "seq1"}


def test_source_survives_its_dict():
    for source in (Source("media", "k"), Source("media", "k", None, "e1", "seq1"), Source("media", "k", "v1", "e1")):
        assert Source.from_dict(through_json(source.to_dict())) == source


def test_empty_strings_read_back_as_unknown():
    assert Source.from_dict({"bucket": "media", "key": "k", "version_id": "", "etag": "", "sequencer": ""}) == \
        Source("media", "k")


@pytest.mark.parametrize("source, pin", [
    (Source("media", "k", "v1", "e1"), Pin(version_id="v1")),  # a version id names the bytes alone
    (Source("media", "k", None, "e1", "seq"), Pin(etag="e1")),  # unversioned: If-Match the ETag
    (Source("media", "k"), Pin()),
])
def test_a_source_pins_the_version_it_was_made_for(source, pin):
    assert source.pin == pin


# --- Pin -----------------------------------------------------------------------------------------


def test_pin_leaves_out_what_is_unknown():
    assert Pin(version_id="v1").to_dict() == {"version_id": "v1"}
    assert Pin(etag="e1").to_dict() == {"etag": "e1"}
    assert Pin().to_dict() == {}


@pytest.mark.parametrize("data", [None, {}])
def test_no_pin_reads_back_as_none(data):
    assert Pin.from_dict(data) is None


def test_pin_survives_its_dict():
    for pin in (Pin(version_id="v1"), Pin(etag="e1"), Pin("v1", "e1")):
        assert Pin.from_dict(through_json(pin.to_dict())) == pin


# --- Job -----------------------------------------------------------------------------------------


def full_job() -> Job:
    return Job(job_id="j", kind=JobKind.JOB_FILE, source=Source("media", "uploads/j.json", None, "e1", "seq1"),
               video_key="outputs/j.mp4", manifest_key="outputs/j.json", image_key="uploads/cat.png",
               image_pin=Pin(version_id="v7"), end_image_pin=Pin(etag="e9"),
               request={"prompt": "p", "priority": "high"}, uploaded_at="2026-01-01T00:00:00.000Z",
               timings={"uploaded_at": "2026-01-01T00:00:00.000Z"})


def test_a_job_survives_json_between_steps():
    job = full_job()
    again = Job.from_dict(through_json(job.to_dict()))
    assert again == job
    assert again.kind is JobKind.JOB_FILE and isinstance(again.image_pin, Pin)


def test_a_job_as_a_dict():
    assert full_job().to_dict() == {
        "job_id": "j", "kind": "job_file",
        "source": {"bucket": "media", "key": "uploads/j.json", "etag": "e1", "sequencer": "seq1"},
        "video_key": "outputs/j.mp4", "manifest_key": "outputs/j.json", "image_key": "uploads/cat.png",
        "image_pin": {"version_id": "v7"}, "end_image_pin": {"etag": "e9"},
        "request": {"prompt": "p", "priority": "high"}, "batch": None, "content_key": None, "price_usd": None,
        "uploaded_at": "2026-01-01T00:00:00.000Z",
        "timings": {"uploaded_at": "2026-01-01T00:00:00.000Z"}}


def test_a_new_job_has_only_its_identity():
    job = Job(job_id="j", kind=JobKind.IMAGE, source=Source("media", "uploads/cat.png", "v1"),
              video_key="outputs/cat.mp4", manifest_key="outputs/cat.json")
    data = job.to_dict()
    assert (data["image_pin"], data["end_image_pin"], data["request"], data["timings"]) == (None, None, None, {})
    assert Job.from_dict(through_json(data)) == job


def test_a_record_without_the_optional_fields_reads_back():
    job = Job.from_dict({"job_id": "j", "kind": "image", "source": {"bucket": "media", "key": "uploads/cat.png"},
                         "video_key": "outputs/cat.mp4", "manifest_key": "outputs/cat.json"})
    assert (job.image_key, job.image_pin, job.request, job.timings) == (None, None, None, {})


def test_timings_are_copied_not_shared():
    data = full_job().to_dict()
    job = Job.from_dict(data)
    job.timings["completed_at"] = "later"
    assert "completed_at" not in data["timings"]


def test_an_unknown_kind_is_refused():
    data = full_job().to_dict() | {"kind": "video"}
    with pytest.raises(ValueError):
        Job.from_dict(data)


# --- content_key: the same images and request make the same video --------------------------------------

IMAGE = hashlib.sha256(b"cat").hexdigest()
END = hashlib.sha256(b"end").hexdigest()
REQUEST = {"mode": "Standard", "prompt": "a cat", "negative_prompt": None, "duration": 5, "guidance_scale": 0.5}


def test_a_content_key_is_a_sha256_in_hex():
    key = content_key(IMAGE, None, REQUEST)
    assert len(key) == 64 and int(key, 16) >= 0


def test_the_same_bytes_and_request_give_the_same_key_whatever_the_order_of_the_request():
    assert content_key(IMAGE, END, REQUEST) == content_key(IMAGE, END, dict(reversed(list(REQUEST.items()))))
    assert content_key(IMAGE, None, REQUEST) == content_key(IMAGE, None, dict(REQUEST))


@pytest.mark.parametrize("change", [
    {"mode": "Professional"}, {"prompt": "a dog"}, {"prompt": "a cat "}, {"negative_prompt": "blur"},
    {"negative_prompt": ""}, {"duration": 10}, {"guidance_scale": 0.6},
])
def test_any_parameter_the_provider_sees_changes_the_key(change):
    assert content_key(IMAGE, None, {**REQUEST, **change}) != content_key(IMAGE, None, REQUEST)


def test_other_image_bytes_or_end_frame_bytes_change_the_key():
    base = content_key(IMAGE, None, REQUEST)
    assert content_key(hashlib.sha256(b"dog").hexdigest(), None, REQUEST) != base
    assert content_key(IMAGE, END, REQUEST) != base  # an end frame where there was none
    assert content_key(IMAGE, hashlib.sha256(b"other end").hexdigest(), REQUEST) != content_key(IMAGE, END, REQUEST)
    assert content_key(END, IMAGE, REQUEST) != content_key(IMAGE, END, REQUEST)  # start and end swapped


def test_unicode_prompts_are_keyed_by_their_text():
    assert content_key(IMAGE, None, {**REQUEST, "prompt": "un chat, café"}) == \
        content_key(IMAGE, None, {**REQUEST, "prompt": "un chat, café"})
    assert content_key(IMAGE, None, {**REQUEST, "prompt": "un chat, café"}) != \
        content_key(IMAGE, None, {**REQUEST, "prompt": "un chat, cafe"})


def test_a_job_carries_its_content_key_and_price_through_json():
    job = Job(job_id="0" * 32, kind=JobKind.IMAGE, source=Source("media", "uploads/a.png", "v1"),
              video_key="outputs/a.mp4", manifest_key="outputs/a.json",
              content_key=content_key(IMAGE, None, REQUEST), price_usd=0.13)
    back = Job.from_dict(through_json(job.to_dict()))
    assert back.content_key == job.content_key and back.price_usd == 0.13
    assert Job.from_dict({**job.to_dict(), "content_key": None, "price_usd": None}).content_key is None
