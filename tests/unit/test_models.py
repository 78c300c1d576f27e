"""The job as it travels between the steps (i2v.models)."""

from __future__ import annotations

import json

from i2v.models import Job, Source


def test_source_leaves_out_what_is_unknown():
    assert Source("media", "uploads/cat.png").to_dict() == {"bucket": "media", "key": "uploads/cat.png"}
    assert Source("media", "k", "v1", "e1").to_dict() == {
        "bucket": "media",
        "key": "k",
        "version_id": "v1",
        "etag": "e1",
    }


def test_a_job_survives_json_between_steps():
    job = Job(
        job_id="j",
        kind="job_file",
        source=Source("media", "uploads/j.json", None, "e1"),
        video_key="outputs/j.mp4",
        manifest_key="outputs/j.json",
        image_key="uploads/cat.png",
        request={"prompt": "p"},
        uploaded_at="2026-01-01T00:00:00.000Z",
        timings={"uploaded_at": "x"},
    )
    assert Job.from_dict(json.loads(json.dumps(job.to_dict()))) == job
