"""An image a job file names is that job's input, never a job of its own: through the whole local pipeline."""

from __future__ import annotations

import json

import pytest

from support import Pipeline, image_bytes

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("order", ["images first", "job file first"])
def test_a_job_file_and_its_images_uploaded_together_make_one_paid_video(order, notification_validator):
    job = json.dumps({"image": "cat.png", "end_image": "cat-end.png", "mode": "Professional",
                      "prompt": "the cat turns its head"}).encode()
    puts = [("uploads/shop/cat.png", image_bytes()), ("uploads/shop/cat-end.png", image_bytes()),
            ("uploads/shop/cat.json", job)]
    if order == "job file first":
        puts = puts[-1:] + puts[:-1]
    with Pipeline() as p:
        for key, body in puts:
            p.put(key, body)
        notes = p.wait_for(1, timeout=90, settle=3)
        stats = p.sim.stats()
    assert [n["notification"]["source"]["key"] for n in notes] == ["uploads/shop/cat.json"]
    note = notes[0]["notification"]
    notification_validator.validate(note)
    assert note["status"] == "SUCCEEDED", note["error"]
    assert stats["tasks_created"] == 1  # one upload of intent, one payment


def test_with_the_job_files_trigger_an_image_alone_starts_nothing():
    with Pipeline(cloud_knobs={"trigger": "job-files"}) as p:
        p.put("uploads/alone.png", image_bytes())
        p.put("uploads/job.json", json.dumps({"image": "alone.png", "prompt": "p"}).encode())
        notes = p.wait_for(1, timeout=60, settle=3)
        assert p.sim.stats()["tasks_created"] == 1
    assert [n["notification"]["source"]["key"] for n in notes] == ["uploads/job.json"]
