"""Jobs as users give them (the README's "Jobs" section), through the whole local pipeline.

Every bad input ends in exactly one schema-valid FAILED notification with a specific code, a message
that says what was expected, and no provider submission. Awkward but valid names all succeed.
"""

from __future__ import annotations

import io
import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from support import Pipeline, image_bytes

pytestmark = pytest.mark.e2e

PNG = image_bytes(640, 480, "PNG")
JPEG = image_bytes(640, 480, "JPEG")


def _noise_png(width: int, height: int) -> bytes:
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buf, "PNG", compress_level=0)
    return buf.getvalue()


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), "blue").save(buf, "GIF")
    return buf.getvalue()


def _bmp() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), "blue").save(buf, "BMP")
    return buf.getvalue()


def _job(doc) -> bytes:
    return json.dumps(doc).encode()


# (folder name, [(relative key, body, metadata)], job key relative to the folder, expected code)
BAD_INPUTS = [
    ("gif-named-png", [("x.png", _gif(), {})], "x.png", "IMAGE_FORMAT_UNSUPPORTED"),
    ("bmp-named-jpg", [("x.jpg", _bmp(), {})], "x.jpg", "IMAGE_FORMAT_UNSUPPORTED"),
    ("empty", [("x.png", b"", {})], "x.png", "IMAGE_EMPTY"),
    ("truncated-png", [("x.png", PNG[: len(PNG) // 2], {})], "x.png", "IMAGE_CORRUPT"),
    ("truncated-jpeg", [("x.jpg", JPEG[: len(JPEG) // 2], {})], "x.jpg", "IMAGE_CORRUPT"),
    ("tiny", [("x.png", image_bytes(200, 200), {})], "x.png", "IMAGE_TOO_SMALL"),
    ("wide", [("x.png", image_bytes(3000, 1000), {})], "x.png", "IMAGE_ASPECT_RATIO"),
    ("huge", [("x.png", _noise_png(2100, 1800), {})], "x.png", "IMAGE_TOO_LARGE"),
    ("long-prompt-file", [("_f/a.png", PNG, {}), ("job.json", _job({"image": "_f/a.png", "prompt": "p" * 2001}), {})],
     "job.json", "INVALID_PROMPT"),
    ("empty-prompt", [("x.png", PNG, {"prompt": ""})], "x.png", "INVALID_PROMPT"),
    ("metadata-prompt-over-limit", [("x.png", PNG, {"prompt": "m" * 2001})], "x.png", "INVALID_PROMPT"),
    ("negative-over-limit", [("x.png", PNG, {"negative-prompt": "n" * 2001})], "x.png", "INVALID_NEGATIVE_PROMPT"),
    ("duration-7", [("x.png", PNG, {"duration": "7"})], "x.png", "INVALID_DURATION"),
    ("duration-word", [("x.png", PNG, {"duration": "ten"})], "x.png", "INVALID_DURATION"),
    ("guidance-1.5", [("x.png", PNG, {"guidance-scale": "1.5"})], "x.png", "INVALID_GUIDANCE_SCALE"),
    ("guidance-word", [("x.png", PNG, {"guidance-scale": "abc"})], "x.png", "INVALID_GUIDANCE_SCALE"),
    ("mode-unknown", [("x.png", PNG, {"mode": "Ultra"})], "x.png", "INVALID_MODE"),
    ("end-frame-standard", [("_f/e.png", PNG, {}), ("x.png", PNG, {"end-image": "_f/e.png"})], "x.png",
     "END_IMAGE_REQUIRES_PROFESSIONAL"),
    ("end-image-missing", [("x.png", PNG, {"mode": "Professional", "end-image": "_f/none.png"})], "x.png",
     "END_IMAGE_NOT_FOUND"),
    ("end-image-too-small", [("_f/e.png", image_bytes(100, 100), {}),
                             ("x.png", PNG, {"mode": "Professional", "end-image": "_f/e.png"})], "x.png",
     "IMAGE_TOO_SMALL"),
    ("job-not-json", [("job.json", b"{not json", {})], "job.json", "INVALID_JOB_FILE"),
    ("job-array", [("job.json", b"[1, 2]", {})], "job.json", "INVALID_JOB_FILE"),
    ("job-unknown-key", [("_f/a.png", PNG, {}), ("job.json", _job({"image": "_f/a.png", "prompt": "x", "fps": 60}), {})],
     "job.json", "JOB_FILE_UNKNOWN_KEYS"),
    ("job-no-image", [("job.json", _job({"prompt": "x"}), {})], "job.json", "INVALID_JOB_FILE"),
    ("job-image-missing", [("job.json", _job({"image": "_f/gone.png", "prompt": "x"}), {})], "job.json",
     "IMAGE_NOT_FOUND"),
    ("job-image-above-root", [("job.json", _job({"image": "../../../x.png", "prompt": "x"}), {})], "job.json",
     "INVALID_JOB_FILE"),
    ("bad-defaults", [("_defaults.json", b'{"prompt": "x", "colour": "red"}', {}), ("x.png", PNG, {})], "x.png",
     "INVALID_DEFAULTS_FILE"),
]

GOOD_KEYS = [
    "uploads/My Photos/summer sale+50% (1).PNG",
    "uploads/caté/猫 ünïcode.JpEg",
    "uploads/a/b/c/d/deep.jpeg",
    "uploads/UPPER.JPG",
    "uploads/tabs and  double  spaces.png",
]
NOT_JOBS = ["uploads/notes.txt", "uploads/x/_defaults.json", "outputs/planted.png", "elsewhere/thing.png",
            "uploads/_frames/start.png", "uploads/folder/"]


def test_every_bad_input_fails_once_with_its_code_and_costs_nothing(notification_validator):
    with Pipeline() as p:
        expected = {}
        for folder, objects, job_key, code in BAD_INPUTS:
            for rel, body, metadata in objects:
                p.put(f"uploads/bad/{folder}/{rel}", body, metadata)
            expected[f"uploads/bad/{folder}/{job_key}"] = code
        notes = p.wait_for(len(expected), timeout=120, settle=2)
        stats = p.sim.stats()
    by_key = Counter(n["notification"]["source"]["key"] for n in notes)
    assert set(by_key) == set(expected), set(by_key) ^ set(expected)
    assert all(count == 1 for count in by_key.values()), by_key
    for message in notes:
        note = message["notification"]
        notification_validator.validate(note)
        want = expected[note["source"]["key"]]
        assert note["status"] == "FAILED"
        assert note["error"]["code"] == want, (note["source"]["key"], note["error"])
        assert "expected" in note["error"]["message"] or "no longer" in note["error"]["message"], note["error"]
        assert note["error"]["stage"] == "validate"
        assert note["provider"]["task_id"] is None
        assert message["attributes"]["error_code"] == want and message["attributes"]["status"] == "FAILED"
    assert stats["submit_requests"] == 0


def test_awkward_names_succeed_and_non_jobs_start_nothing(notification_validator):
    # The same bytes under every name: each name must reach the provider, so no job copies another's video
    # (pay once per content is tested in test_reuse.py).
    with Pipeline(cloud_knobs={"defaults": {"reuse": False}}) as p:
        for key in NOT_JOBS:
            p.put(key, PNG if key.endswith(".png") else b"{}")
        for key in GOOD_KEYS:
            p.put(key, JPEG if key.lower().endswith(("jpg", "jpeg")) else PNG)
        p.put("uploads/jobs/_frames/start.png", PNG)
        p.put("uploads/jobs/_frames/end.png", image_bytes(640, 480, color=(10, 200, 10)))
        p.put("uploads/jobs/spin job.json", _job({"image": "_frames/start.png", "end_image": "_frames/end.png",
                                                 "mode": "Professional", "prompt": "spin " * 300}))
        notes = p.wait_for(len(GOOD_KEYS) + 1, timeout=120, settle=2)
        listed = {o["Key"] for o in p.s3.list_objects_v2(Bucket=p.bucket, Prefix="outputs/").get("Contents", [])}
        stats = p.sim.stats()
    keys = Counter(n["notification"]["source"]["key"] for n in notes)
    assert set(keys) == set(GOOD_KEYS) | {"uploads/jobs/spin job.json"}
    assert all(v == 1 for v in keys.values())
    for message in notes:
        notification_validator.validate(message["notification"])
        assert message["notification"]["status"] == "SUCCEEDED", message["notification"]["error"]
    assert "outputs/My Photos/summer sale+50% (1).mp4" in listed
    assert "outputs/caté/猫 ünïcode.json" in listed
    assert "outputs/jobs/spin job.mp4" in listed
    professional = [s for s in stats["submissions"] if s["mode"] == "Professional"]
    assert len(professional) == 1 and professional[0]["end_image_url"]
    assert len(professional[0]["prompt"]) == len("spin " * 300)
    assert stats["tasks_created"] == len(GOOD_KEYS) + 1 and not stats["duplicate_identities"]


def test_folder_defaults_and_metadata_precedence():
    with Pipeline(cloud_knobs={"defaults": {"negative_prompt": "blurry"}}) as p:
        p.put("uploads/catalog/_defaults.json", _job({"prompt": "studio turntable", "duration": 10,
                                                     "guidance_scale": 0.7}))
        p.put("uploads/catalog/one.png", PNG)
        p.put("uploads/catalog/two.jpg", JPEG)
        p.put("uploads/catalog/sub/three.png", PNG, {"prompt": "red shoe on marble"})
        notes = p.wait_for(3, timeout=120, settle=1)
        submissions = {s["image_identity"].split("/i2v-local/")[-1].split("?")[0]: s for s in p.sim.stats()["submissions"]}
    assert len(notes) == 3 and all(n["notification"]["status"] == "SUCCEEDED" for n in notes)
    assert len(submissions) == 3
    for key, sub in submissions.items():
        assert sub["duration"] == 10 and sub["guidance_scale"] == 0.7  # nearest parent _defaults.json
        assert sub["negative_prompt"] == "blurry"  # stack default
        expected_prompt = "red shoe on marble" if key.endswith("three.png") else "studio turntable"
        assert sub["prompt"] == expected_prompt, key
