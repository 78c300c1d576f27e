"""Messages that failed every delivery mark the jobs they name DEAD_LETTER, whatever kind of message."""

from __future__ import annotations

import json

from i2v import constants as c
from i2v.contracts.status import JobStatus
from i2v.steps.batch import RESUME_KIND, Chunk, take_rows
from i2v.steps.dead_letter import mark_dead_letter
from i2v.steps.intake import Outcome


def _statuses(scene) -> dict[str, str]:
    return {job_id: job["status"] for job_id, job in scene.jobs.items.items()}


def test_an_s3_event_marks_its_upload(batch_scene):
    scene = batch_scene()
    event = {"Records": [{"s3": {"bucket": {"name": scene.bucket.bucket}, "object": {"key": "uploads/a.png", "versionId": "v1"}}}]}
    mark_dead_letter(json.dumps(event), "boom", scene.deps)
    (job,) = scene.jobs.items.values()
    assert job["status"] == JobStatus.DEAD_LETTER and job["dead_letter_reason"] == "boom"
    assert job["source"]["key"] == "uploads/a.png"


def test_a_chunk_of_rows_marks_each_row_and_a_redrive_builds_them_again(batch_scene, image_data):
    scene = batch_scene()
    scene.bucket.put("uploads/i.png", image_data())
    scene.put("uploads/b.csv", ("image,prompt\n" + "i.png,p\n" * 3).encode())
    (chunk,) = scene.rows.sent
    mark_dead_letter(json.dumps(chunk), "TimeoutError: slow", scene.deps)
    rows = [j for j in scene.jobs.items.values() if j.get("batch")]
    assert sorted(j["batch"]["row"] for j in rows) == [1, 2, 3]
    assert {j["status"] for j in rows} == {JobStatus.DEAD_LETTER}
    assert {j["source"]["key"] for j in rows} == {"uploads/b.csv"}
    assert take_rows(Chunk.from_message(chunk), scene.deps) == [Outcome.PARKED] * 3  # `i2v redrive`
    assert {j["status"] for j in scene.jobs.items.values() if j.get("batch")} == {JobStatus.QUEUED}


def test_a_row_that_got_further_is_left_as_it_is(batch_scene, image_data):
    scene = batch_scene()
    scene.bucket.put("uploads/i.png", image_data())
    scene.put("uploads/b.csv", b"image\ni.png\ni.png\n")
    (chunk,) = scene.rows.sent
    take_rows(Chunk.from_message({**chunk, "rows": chunk["rows"][:1]}), scene.deps)
    mark_dead_letter(json.dumps(chunk), "boom", scene.deps)
    assert sorted(_statuses(scene).values()) == sorted([JobStatus.QUEUED, JobStatus.DEAD_LETTER])


def test_a_fan_out_to_resume_marks_the_batch_file(batch_scene, image_data):
    scene = batch_scene()
    scene.bucket.put("uploads/i.png", image_data())
    ticks = iter([0.0] + [c.BATCH_STEP_SECONDS] * 100)
    scene.deps.clock = lambda: scene.clock() + next(ticks)
    scene.put("uploads/b.csv", ("image\n" + "i.png\n" * (2 * c.BATCH_CHUNK_ROWS)).encode())
    scene.deps.clock = scene.clock
    resume = next(m for m in scene.rows.sent if m["kind"] == RESUME_KIND)
    mark_dead_letter(json.dumps(resume), "boom", scene.deps)
    (job,) = [j for j in scene.jobs.items.values() if not j.get("batch")]
    assert job["status"] == JobStatus.DEAD_LETTER and job["source"]["key"] == "uploads/b.csv"


def test_a_body_that_names_no_job_marks_nothing(batch_scene):
    scene = batch_scene()
    for body in ("not json", "[1]", json.dumps({"kind": "i2v-batch-rows"}), json.dumps({"Records": [{"s3": 1}]})):
        mark_dead_letter(body, "boom", scene.deps)
    assert scene.jobs.items == {}
