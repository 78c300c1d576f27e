"""Batch files through intake, dispatch and the store step's ledger, on the in-memory adapters."""

from __future__ import annotations

import json
import random

import pytest

from i2v import constants as c
from i2v.backlog import order_key
from i2v.clock import iso
from i2v.contracts.errors import ErrorCode
from i2v.contracts.job import BatchRef
from i2v.contracts.status import JobStatus
from i2v.jobs.keys import summary_key
from i2v.steps.batch import CHUNK_KIND, RESUME_KIND, Chunk, resumed_batch, take_batch, take_rows
from i2v.steps.intake import Outcome, Upload, take


@pytest.fixture
def scene(batch_scene):
    return batch_scene()


def test_each_row_is_a_job_of_its_own_and_one_summary_follows_the_last(scene, image_data):
    for name in ("red", "blue"):
        scene.bucket.put(f"uploads/shop/{name}.png", image_data())
    body = b"image,prompt,duration\nred.png,turn,5\nblue.png,spin,10\nred.png,zoom,7\n,no image,5\n"
    assert scene.put("uploads/shop/items.csv", body) == Outcome.PARKED
    outcomes = scene.deliver_rows()
    assert outcomes == [Outcome.PARKED, Outcome.PARKED, Outcome.FAILED, Outcome.FAILED]
    scene.dispatcher.run(lambda: 900.0)
    assert sorted(r.prompt for r in scene.provider.submitted) == ["spin", "turn"]
    summaries = scene.finish_all()
    assert len(summaries) == 1
    summary = summaries[0]
    assert summary["schema"] == c.BATCH_SCHEMA and summary["counts"] == {"total": 4, "succeeded": 2, "failed": 2}
    assert summary["failures_by_code"] == {"INVALID_DURATION": 1, "INVALID_JOB_FILE": 1}
    assert [(f["row"], f["code"]) for f in summary["failures"]] == [(3, "INVALID_DURATION"), (4, "INVALID_JOB_FILE")]
    key = summary_key("uploads/shop/items.csv", "uploads/", "outputs/")
    assert key == "outputs/shop/items.summary.json" and scene.bucket.json(key) == summary
    videos = sorted(job["video_key"] for job in scene.jobs.items.values() if "video_key" in job)
    assert videos == ["outputs/shop/items/00001-red.mp4", "outputs/shop/items/00002-blue.mp4",
                      "outputs/shop/items/00003-red.mp4", "outputs/shop/items/00004-row.mp4"]
    published = [n for n in scene.notifier.published if n.get("schema") == "i2v.notification/v1"]
    assert sorted(n["batch"]["row"] for n in published) == [1, 2, 3, 4]


def test_bad_rows_fail_by_number_and_never_stop_the_good_ones(scene, image_data):
    scene.bucket.put("uploads/a.png", image_data())
    body = b'{"image": "a.png", "prompt": "ok"}\n{"image": "a.png", "colour": "red"}\nnot json\n'
    scene.put("uploads/b.jsonl", body)
    assert scene.deliver_rows() == [Outcome.PARKED, Outcome.FAILED, Outcome.FAILED]
    errors = sorted((s["job"]["batch"]["row"], s["error"]["code"], s["error"]["message"][:30])
                    for s in scene.workflow.executions.values() if s["error"])
    assert [(row, code) for row, code, _ in errors] == [(2, ErrorCode.INVALID_BATCH_ROW),
                                                        (3, ErrorCode.INVALID_BATCH_ROW)]
    assert errors[0][2].startswith("row 2 has unknown key")


def test_a_duplicate_batch_event_fans_out_nothing_more(scene, image_data):
    scene.bucket.put("uploads/a.png", image_data())
    version = scene.bucket.put("uploads/x.csv", b"image\na.png\n")
    upload = Upload("ObjectCreated:Put", scene.bucket.bucket, "uploads/x.csv", version_id=version, event_time=iso(scene.clock()))
    assert take(upload, scene.deps) == Outcome.PARKED
    assert take(upload, scene.deps) == Outcome.DUPLICATE
    assert len(scene.rows.sent) == 1
    chunk = scene.rows.sent[0]
    assert take_rows(Chunk.from_message(chunk), scene.deps) == [Outcome.PARKED]
    assert take_rows(Chunk.from_message(chunk), scene.deps) == [Outcome.DUPLICATE]  # a redelivered chunk


def test_a_file_that_is_no_batch_fails_once_as_a_whole(scene):
    assert scene.put("uploads/x.csv", b"prompt\nhello\n") == Outcome.FAILED
    (state,) = scene.workflow.executions.values()
    assert state["error"]["code"] == ErrorCode.INVALID_BATCH_FILE and scene.rows.sent == []


def test_images_a_batch_names_are_never_jobs_of_their_own(batch_scene, image_data):
    scene = batch_scene(grace=10.0)
    scene.put("uploads/x.csv", b"image,prompt\ncat.png,turn\n")
    assert scene.put("uploads/cat.png", image_data()) == Outcome.CLAIMED
    scene.deliver_rows()
    scene.dispatcher.run(lambda: 900.0)
    assert len(scene.provider.submitted) == 1
    assert {j["status"] for j in scene.jobs.items.values()} == {JobStatus.GENERATING}


def test_ten_thousand_rows_fan_out_in_chunks_and_each_becomes_a_job(scene, image_data):
    scene.bucket.put("uploads/i.png", image_data())
    body = ("image,prompt\n" + "i.png,p\n" * 10_000).encode()
    scene.put("uploads/big.csv", body)
    assert len(scene.rows.sent) == 10_000 // c.BATCH_CHUNK_ROWS
    assert max(len(json.dumps(m)) for m in scene.rows.sent) < 256 * 1024  # an SQS message's limit
    outcomes = scene.deliver_rows()
    assert outcomes.count(Outcome.PARKED) == 10_000 and scene.backlog.size() == 10_000


class _Ticking:
    """A clock that moves on by ``step`` seconds each time it is read: a fan-out that takes its time."""

    def __init__(self, clock, step: float) -> None:
        self.clock, self.step = clock, step

    def __call__(self) -> float:
        return self.clock.advance(self.step)


def _row_numbers(messages: list[dict]) -> list[int]:
    return [row["number"] for m in messages if m.get("kind") == CHUNK_KIND for row in m["rows"]]


def test_the_rows_of_a_file_wait_in_the_backlog_in_the_order_it_lists_them(scene, image_data):
    scene.bucket.put("uploads/i.png", image_data())
    scene.put("uploads/big.csv", ("image,prompt\n" + "".join(f"i.png,p{n}\n" for n in range(1, 121))).encode())
    random.Random(7).shuffle(scene.rows.sent)  # chunks arrive in any order
    scene.deliver_rows()
    parked = sorted(scene.jobs.items.values(), key=lambda j: order_key(j["uploaded_at"], j["job_id"],
                                                                        BatchRef.from_dict(j["batch"])))
    assert [j["batch"]["row"] for j in parked] == list(range(1, 121))
    scene.dispatcher.run(lambda: 900.0)
    assert [r.prompt for r in scene.provider.submitted] == [f"p{n}" for n in range(1, 121)]


def test_a_long_fan_out_goes_on_in_a_message_of_its_own_and_sends_every_row_once(scene, image_data):
    scene.bucket.put("uploads/i.png", image_data())
    total = 20 * c.BATCH_CHUNK_ROWS
    scene.deps.clock = _Ticking(scene.clock, c.BATCH_STEP_SECONDS / 4)  # about four chunks fit in a step
    assert scene.put("uploads/big.csv", ("image\n" + "i.png\n" * total).encode()) == Outcome.PARKED
    steps = 1
    while (resume := [m for m in scene.rows.sent if m.get("kind") == RESUME_KIND]):
        scene.rows.sent.remove(resume[0])
        assert take_batch(*resumed_batch(resume[0]), scene.deps, scene.ledger, scene.rows.send) == Outcome.PARKED
        steps += 1
    assert 3 <= steps < 20
    assert sorted(_row_numbers(scene.rows.sent)) == list(range(1, total + 1))
    assert scene.deliver_rows().count(Outcome.PARKED) == total


def test_a_fan_out_cut_short_resumes_where_the_ledger_says_when_its_event_comes_again(scene, image_data):
    scene.bucket.put("uploads/i.png", image_data())
    total = 5 * c.BATCH_CHUNK_ROWS
    version = scene.bucket.put("uploads/big.csv", ("image\n" + "i.png\n" * total).encode())
    upload = Upload("ObjectCreated:Put", scene.bucket.bucket, "uploads/big.csv", version_id=version, event_time=iso(scene.clock()))
    sent: list[dict] = []

    def dies_on_the_third_chunk(message: dict) -> None:
        if len(sent) == 2:
            raise TimeoutError("the function ran out of time")
        sent.append(message)

    scene.deps.on_batch = lambda job, redrive: take_batch(job, redrive, scene.deps, scene.ledger, dies_on_the_third_chunk)
    with pytest.raises(TimeoutError):
        take(upload, scene.deps)
    scene.deps.on_batch = lambda job, redrive: take_batch(job, redrive, scene.deps, scene.ledger, scene.rows.send)
    assert take(upload, scene.deps) == Outcome.PARKED  # the redelivered event
    assert take(upload, scene.deps) == Outcome.DUPLICATE  # and once all are out, nothing more
    assert _row_numbers(sent) == list(range(1, 2 * c.BATCH_CHUNK_ROWS + 1))
    assert _row_numbers(scene.rows.sent) == list(range(2 * c.BATCH_CHUNK_ROWS + 1, total + 1))


def test_a_chunk_that_takes_too_long_puts_the_rows_it_did_not_reach_back_on_the_queue(scene, image_data):
    scene.bucket.put("uploads/i.png", image_data())
    scene.put("uploads/x.csv", ("image,prompt\n" + "".join(f"i.png,p{n}\n" for n in range(c.BATCH_CHUNK_ROWS))).encode())
    (chunk,) = scene.rows.sent
    scene.rows.sent.clear()
    scene.deps.clock = _Ticking(scene.clock, c.BATCH_STEP_SECONDS / 2.5)
    first = take_rows(Chunk.from_message(chunk), scene.deps, scene.rows.send)
    assert 0 < len(first) < c.BATCH_CHUNK_ROWS and set(first) == {Outcome.PARKED}
    (rest,) = scene.rows.sent
    assert [r["number"] for r in rest["rows"]] == list(range(len(first) + 1, c.BATCH_CHUNK_ROWS + 1))
    scene.deps.clock = scene.clock
    assert scene.deliver_rows() == [Outcome.PARKED] * (c.BATCH_CHUNK_ROWS - len(first))
    assert scene.backlog.size() == c.BATCH_CHUNK_ROWS
