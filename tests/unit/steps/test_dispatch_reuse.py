"""Pay once per content (issue 13, item 1): the same image bytes, end-frame bytes and request make one
paid task; every later job of that content copies its video, with its own notification naming the job
it came from (``reused_from``); anything that changes the video makes a new one. Intake, dispatch and
store are the real steps on the in-memory adapters (the ``pipeline`` fixture, tests/unit/steps/conftest.py)."""

from __future__ import annotations

import pytest

from i2v.contents import DONE, PENDING
from i2v.contracts.status import JobStatus
from i2v.provider.errors import ProviderRejected
from i2v.steps import dispatch as dispatch_step
from i2v.steps.dispatch import PRODUCER_MARGIN_SECONDS, REUSE_WAIT_SECONDS, Started


@pytest.fixture
def image(image_data) -> bytes:
    return image_data(640, 480)


def _succeeded(note: dict) -> None:
    assert note["status"] == "SUCCEEDED", note


# --- the same content again: copied, not paid ----------------------------------------------------------


@pytest.mark.parametrize("second_key", ["uploads/renamed.png",  # the same bytes under another key
                                        "uploads/cat.png",  # the same key again (a nightly sync)
                                        "uploads/other/folder/cat.png"])  # a copy in another folder
def test_the_same_content_later_is_copied_not_paid_again(pipeline, image, second_key):
    p = pipeline()
    first = p.upload("uploads/cat.png", image, {"prompt": "a cat"})
    [made] = p.run()
    second = p.upload(second_key, image, {"prompt": "a cat"})
    [copied] = p.run()
    assert p.paid() == 1 and len(p.provider.submitted) == 1
    for note, job in ((made, first), (copied, second)):
        _succeeded(note)
        assert note["job_id"] == job
    assert "reused_from" not in made and copied["reused_from"] == first
    assert made["cost"] == {"estimated_usd": 0.13} and copied["cost"] == {"estimated_usd": 0.0}
    assert copied["provider"] == {"task_id": None, "status": None}  # no provider call
    assert copied["output"]["key"] == second_key.replace("uploads/", "outputs/").replace(".png", ".mp4")
    assert p.served(made) == p.served(copied) == p.videos["task-0"]
    assert p.jobs.items[second]["reused_from"] == first and p.jobs.items[second]["status"] == JobStatus.SUCCEEDED


def test_every_later_job_of_the_content_copies_the_first_video(pipeline, image):
    p = pipeline()
    keys = [f"uploads/catalogue/{i}/cat.png" for i in range(5)]
    first = p.upload(keys[0], image)
    p.run()
    for key in keys[1:]:
        p.upload(key, image)
    notes = p.run()
    assert p.paid() == 1 and len(notes) == 4
    assert {n["reused_from"] for n in notes} == {first}
    assert all(p.served(n) == p.videos["task-0"] for n in notes)
    assert p.contents.items[p.jobs.items[first]["content_key"]].job_id == first  # the origin is still the first


def test_a_reused_video_takes_no_slot_no_rate_token_and_no_budget(pipeline, image, image_data):
    from i2v.spend import Budget, Periods

    p = pipeline(max_in_flight=2, per_minute=2, budget=Budget(daily_usd=0.13))
    p.upload("uploads/a.png", image)
    p.run()
    taken = dict(p.leases.items)
    for i in range(3):
        p.upload(f"uploads/copy-{i}.png", image)
    done = p.dispatch()
    assert done.reused == 3 and done.started == 0
    assert p.capacity.in_flight() == 0 and dict(p.leases.items) == taken  # no lease taken or renewed
    assert p.spend.totals(Periods.at(p.clock())) == (0.13, 0.13)  # the budget allowed one video: it holds
    assert len(p.finish()) == 3 and p.paid() == 1


def test_a_reused_job_goes_straight_to_the_store_step(pipeline, image):
    p = pipeline()
    p.upload("uploads/a.png", image)
    p.run()
    job = p.upload("uploads/b.png", image)
    assert p.dispatch().reused == 1
    (state,) = [s for s in p.workflow.executions.values() if s["job"]["job_id"] == job]
    assert state["poll"]["state"] == "SUCCEEDED" and state["task"] is None and state["error"] is None
    assert state["reuse"]["state"] == DONE and state["reuse"]["key"] == "outputs/a.mp4"
    assert state["job"]["price_usd"] == 0.0
    assert p.jobs.items[job]["status"] == JobStatus.STORING and p.backlog.size() == 0


def test_reuse_counts_the_videos_and_the_money_saved(pipeline, image, monkeypatch):
    seen: list[tuple[str, float]] = []
    monkeypatch.setattr(dispatch_step.metrics, "add_metric", lambda name, unit, value: seen.append((name, value)))
    p = pipeline(prices={"Professional": {"10": 0.9}})
    p.upload("uploads/a.png", image, {"mode": "Professional", "duration": "10"})
    p.run()
    p.upload("uploads/b.png", image, {"mode": "Professional", "duration": "10"})
    p.run()
    assert ("VideosReused", 1) in seen and ("ReuseSavedUsd", 0.9) in seen


# --- anything that changes the video makes a new one ------------------------------------------------


@pytest.mark.parametrize("change", [{"prompt": "a dog"}, {"negative-prompt": "blur"}, {"mode": "Professional"},
                                    {"duration": "10"}, {"guidance-scale": "0.8"}])
def test_any_parameter_changed_is_a_new_submission(pipeline, image, change):
    p = pipeline()
    p.upload("uploads/a.png", image, {"prompt": "a cat"})
    p.run()
    p.upload("uploads/b.png", image, {"prompt": "a cat", **change})
    [note] = p.run()
    assert p.paid() == 2 and "reused_from" not in note and note["cost"]["estimated_usd"] > 0


def test_other_image_bytes_are_a_new_submission(pipeline, image, image_data):
    p = pipeline()
    p.upload("uploads/a.png", image)
    p.run()
    p.upload("uploads/a.png", image_data(640, 482))  # the same key, other bytes
    [note] = p.run()
    assert p.paid() == 2 and "reused_from" not in note


def test_the_end_frame_changed_is_a_new_submission_and_the_same_end_frame_is_not(pipeline, image, image_data):
    p = pipeline()
    p.put("uploads/_frames/end.png", image_data(640, 480, "JPEG"))
    p.put("uploads/_frames/other.png", image_data(640, 480, "JPEG", quality=30))
    meta = {"prompt": "p", "mode": "Professional"}
    first = p.upload("uploads/a.png", image, {**meta, "end-image": "_frames/end.png"})
    p.run()
    p.upload("uploads/b.png", image, {**meta, "end-image": "_frames/other.png"})  # another end frame
    p.upload("uploads/c.png", image, meta)  # no end frame
    p.upload("uploads/d.png", image, {**meta, "end-image": "_frames/end.png"})  # the same one
    notes = {n["job_id"]: n for n in p.run()}
    assert p.paid() == 3
    assert [n.get("reused_from") for n in notes.values()].count(first) == 1
    assert notes[p.job_of("uploads/d.png")]["reused_from"] == first


def test_priority_does_not_make_another_video(pipeline, image):
    p = pipeline()
    first = p.upload("uploads/a.png", image, {"priority": "low"})
    p.run()
    p.upload("uploads/b.png", image, {"priority": "high"})
    [note] = p.run()
    assert p.paid() == 1 and note["reused_from"] == first


# --- identical uploads at once: one paid task, every job its notification ---------------------------------


def test_two_identical_uploads_arriving_together_make_one_paid_task_and_two_notifications(pipeline, image):
    p = pipeline()
    first = p.upload("uploads/a.png", image)
    second = p.upload("uploads/b.png", image)
    done = p.dispatch()
    assert done.started == 1 and p.paid() == 1
    record = p.jobs.items[second]
    assert record["status"] == JobStatus.QUEUED and record["not_before"] == pytest.approx(p.clock() + REUSE_WAIT_SECONDS)
    assert p.waker.later[-1] == REUSE_WAIT_SECONDS  # it looks again when its wait is over
    [made] = p.finish()  # the producer's video is stored...
    assert made["job_id"] == first and p.contents.items[record["content_key"]].state == DONE
    p.clock.advance(REUSE_WAIT_SECONDS)
    assert p.dispatch().reused == 1  # ... and the waiting job copies it
    [copied] = p.finish()
    assert copied["job_id"] == second and copied["reused_from"] == first
    assert p.paid() == 1 and p.served(made) == p.served(copied)


@pytest.mark.parametrize("slots", [2, 10])
def test_a_waiting_job_does_not_hold_up_the_jobs_behind_it(pipeline, image, image_data, slots):
    """Nor does it take a slot's room: with two slots, the producer and the job behind the waiting one start."""
    p = pipeline(max_in_flight=slots)
    p.upload("uploads/a.png", image)
    p.upload("uploads/b.png", image)
    other = p.upload("uploads/other.png", image_data(800, 600))
    done = p.dispatch()
    assert done.started == 2 and p.jobs.items[other]["status"] == JobStatus.GENERATING


def test_a_job_waiting_for_its_producer_leaves_the_last_free_slot_to_the_job_behind_it(pipeline, image, image_data):
    p = pipeline(max_in_flight=2)
    p.upload("uploads/a.png", image)
    assert p.dispatch().started == 1  # the producer holds one slot
    p.upload("uploads/b.png", image)  # its content is being made: it waits
    other = p.upload("uploads/other.png", image_data(800, 600))
    assert p.dispatch().started == 1 and p.jobs.items[other]["status"] == JobStatus.GENERATING


def test_concurrent_dispatchers_pay_once_for_identical_uploads(pipeline, image):
    """While one dispatcher talks to the provider about a content, another dispatcher runs in full: it
    finds the content's producer at work and leaves its own job waiting."""
    p = pipeline()
    ids = [p.upload(f"uploads/{i}/cat.png", image) for i in range(4)]
    inner = p.dispatcher()
    rounds: list = []
    p.provider.replies = [lambda request: rounds.append(inner.run(lambda: 900.0))]
    p.dispatch()
    assert p.paid() == 1 and len(p.provider.submitted) == 1
    assert rounds[0].started == 0 and rounds[0].reused == 0
    notes = p.run()
    assert p.paid() == 1 and len(notes) == 4 and {n["job_id"] for n in notes} == set(ids)
    producer = [n for n in notes if "reused_from" not in n]
    assert len(producer) == 1 and all(n.get("reused_from") == producer[0]["job_id"] for n in notes if n not in producer)


def test_a_producer_that_fails_lets_the_next_job_of_the_content_make_it(pipeline, image):
    p = pipeline()
    first = p.upload("uploads/a.png", image)
    second = p.upload("uploads/b.png", image)
    p.provider.replies = [ProviderRejected("ILLEGAL_IMAGE", "refused", 400)]
    notes = {n["job_id"]: n for n in p.run()}
    assert notes[first]["status"] == "FAILED" and notes[first]["cost"] == {"estimated_usd": 0.0}
    _succeeded(notes[second])
    assert "reused_from" not in notes[second] and p.paid() == 1 and len(p.provider.submitted) == 2


def test_a_producer_whose_lease_ran_out_is_replaced(pipeline, image):
    """A producer that never stored anything (its dispatcher and workflow died) holds the content only
    until its deadline and a margin; then the next job of the content makes it."""
    p = pipeline()
    p.upload("uploads/a.png", image)
    p.dispatch()
    p.workflow.executions.clear()  # the workflow is gone: no store step will ever record the video
    second = p.upload("uploads/b.png", image)
    p.dispatch()
    assert p.jobs.items[second]["status"] == JobStatus.QUEUED and p.paid() == 1
    origin = p.contents.items[p.jobs.items[second]["content_key"]]
    assert origin.state == PENDING and origin.until == pytest.approx(
        p.clock() - 0.5 + p.settings.deadline_standard + PRODUCER_MARGIN_SECONDS, abs=2)
    p.clock.advance(p.settings.deadline_standard + PRODUCER_MARGIN_SECONDS + 1)
    [note] = p.run()
    assert note["job_id"] == second and "reused_from" not in note and p.paid() == 2


# --- the earlier video gone: generated again ------------------------------------------------------------


def test_the_earlier_video_deleted_is_generated_again(pipeline, image):
    p = pipeline()
    p.upload("uploads/a.png", image)
    [made] = p.run()
    p.bucket.delete("outputs/a.mp4")  # by hand or by a lifecycle rule: a delete marker hides the version
    second = p.upload("uploads/b.png", image)
    [again] = p.run()
    assert p.paid() == 2 and "reused_from" not in again and again["cost"]["estimated_usd"] == 0.13
    assert p.contents.items[p.jobs.items[second]["content_key"]].job_id == second  # the new video is the origin
    third = p.upload("uploads/c.png", image)
    [copied] = p.run()
    assert copied["job_id"] == third and copied["reused_from"] == second and p.paid() == 2


def test_the_earlier_version_removed_is_generated_again(pipeline, image):
    p = pipeline()
    p.upload("uploads/a.png", image)
    [made] = p.run()
    p.bucket.delete_version("outputs/a.mp4", p.bucket.objects["outputs/a.mp4"][0].version_id)
    p.upload("uploads/b.png", image)
    [again] = p.run()
    assert p.paid() == 2 and "reused_from" not in again


def test_the_earlier_name_overwritten_by_another_video_is_still_copied_from_its_version(pipeline, image, image_data):
    p = pipeline()
    first = p.upload("uploads/a.png", image)
    [made] = p.run()
    p.upload("uploads/a.png", image_data(800, 600))  # other bytes under the same name: a new video there
    p.run()
    p.upload("uploads/b.png", image)
    [copied] = p.run()
    assert copied["reused_from"] == first and p.served(copied) == p.served(made) and p.paid() == 2


# --- reuse: false --------------------------------------------------------------------------------------


def test_reuse_false_asks_for_a_fresh_video(pipeline, image):
    p = pipeline()
    p.upload("uploads/a.png", image)
    p.run()
    fresh = p.upload("uploads/b.png", image, {"reuse": "false"})
    [note] = p.run()
    assert note["job_id"] == fresh and "reused_from" not in note and p.paid() == 2
    assert note["request"]["reuse"] is False and p.jobs.items[fresh].get("content_key") is None


def test_a_fresh_video_is_not_recorded_for_reuse(pipeline, image):
    p = pipeline()
    p.upload("uploads/a.png", image, {"reuse": "false"})
    p.run()
    assert p.contents.items == {}
    p.upload("uploads/b.png", image)
    [note] = p.run()
    assert "reused_from" not in note and p.paid() == 2


def test_reuse_false_from_a_folder_defaults_file(pipeline, image):
    p = pipeline()
    p.upload("uploads/a.png", image)
    p.run()
    p.put("uploads/fresh/_defaults.json", b'{"reuse": false}')
    p.upload("uploads/fresh/a.png", image)
    [note] = p.run()
    assert "reused_from" not in note and p.paid() == 2


def test_without_a_content_registry_every_job_is_produced(pipeline, image):
    p = pipeline(contents=False)
    p.upload("uploads/a.png", image)
    p.upload("uploads/b.png", image)
    assert len(p.run()) == 2 and p.paid() == 2


# --- a bucket without versions never reuses (a name's bytes may be replaced) ---------------------------------


def test_a_bucket_without_versions_never_reuses(pipeline, image):
    p = pipeline(versioned=False)
    p.upload("uploads/a.png", image)
    p.run()
    assert p.contents.items == {}  # released: nothing pins the video's bytes
    p.upload("uploads/b.png", image)
    [note] = p.run()
    assert "reused_from" not in note and p.paid() == 2


def test_started_reports_reused(pipeline, image):
    p = pipeline()
    p.upload("uploads/a.png", image)
    p.run()
    job = p.upload("uploads/b.png", image)
    entry = next(e for e in p.backlog.head(5) if e.job_id == job)
    assert p.dispatcher().start(entry, lambda: 900.0) == Started.REUSED
