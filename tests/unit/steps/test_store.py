"""The store step, the end of every job (i2v.steps.store)."""

from __future__ import annotations

import io
import json
import random
from types import SimpleNamespace

import pytest

from i2v.capacity import Capacity
from i2v.clock import iso
from i2v.contracts.errors import ErrorDetail, JobError
from i2v.contracts.job import Job, JobKind, Pin, Source
from i2v.contracts.state import Poll, Task, WorkflowState
from i2v.contracts.status import PollState, Stage
from i2v.errors import VideoTransferError
from i2v.steps.store import StoreDeps, store
from i2v.video_transfer import VideoUnavailable
from i2v_local.memory import MemoryOutputNames

VIDEO = b"\x00\x00\x00\x20ftypisom" + b"\x01" * 5000
JOB_ID = "0123456789abcdef0123456789abcdef"


class CopyVideo:
    """Stands in for video_transfer.copy_video: feeds scripted bytes to the upload, or raises."""

    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.urls: list[str] = []

    def __call__(self, url, upload) -> int:
        self.urls.append(url)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        upload(io.BytesIO(outcome))
        return len(outcome)


@pytest.fixture
def world(bucket, notifier, jobs_table, waker, clock, fakes):
    def build(*copy_outcomes, ttl: int = 7 * 24 * 3600, holds_slot: bool = True, slots: int = 2) -> SimpleNamespace:
        capacity = Capacity(fakes.LeaseStore(), slots, 20, 60.0, clock=clock, rng=random.Random(0))
        if holds_slot:
            capacity.acquire(JOB_ID, 3600)
        copy = CopyVideo(*copy_outcomes)
        names = MemoryOutputNames(bucket.meter)
        deps = StoreDeps(bucket=bucket, notifier=notifier, jobs=jobs_table, release_slot=capacity.release,
                         copy_video=copy, names=names, wake_dispatcher=waker.wake, download_url_ttl=ttl, clock=clock)
        return SimpleNamespace(deps=deps, capacity=capacity, copy=copy, bucket=bucket, notifier=notifier,
                               jobs=jobs_table, waker=waker, clock=clock, names=names)

    return build


def job() -> Job:
    return Job(
        job_id=JOB_ID,
        kind=JobKind.IMAGE,
        source=Source("media", "uploads/a/cat.png", "v1", "e1"),
        video_key="outputs/a/cat.mp4",
        manifest_key="outputs/a/cat.json",
        image_key="uploads/a/cat.png",
        image_pin=Pin(version_id="v1"),
        request={"mode": "Standard", "prompt": "a cat", "negative_prompt": None, "duration": 5,
                 "guidance_scale": 0.5, "end_image_key": None, "priority": "normal"},
        uploaded_at="2025-12-31T23:58:00.000Z",
        timings={"uploaded_at": "2025-12-31T23:58:00.000Z", "submitted_at": "2025-12-31T23:58:05.000Z",
                 "completed_at": "2025-12-31T23:59:50.000Z"},
    )


def as_handed_over(state: WorkflowState | dict) -> WorkflowState:
    """The state as Step Functions hands it to the store function (JSON, read as the handler reads it)."""
    data = state.to_dict() if isinstance(state, WorkflowState) else state
    return WorkflowState.from_dict(json.loads(json.dumps(data)), Stage.POLL)


def succeeded_state() -> WorkflowState:
    state = WorkflowState.started(job(), Task("task-1", "2025-12-31T23:58:05.000Z"), deadline_at=None, first_wait=54)
    state.poll = Poll(state=PollState.SUCCEEDED, video_url="https://cdn.example.com/v.mp4", video_ttl=3600,
                      provider_status="TASK_STATUS_SUCCEED", polls=4)
    return as_handed_over(state)


def failed_state(error: dict | None = None) -> WorkflowState:
    state = WorkflowState.started(job(), Task("task-1", "2025-12-31T23:58:05.000Z"), deadline_at=None, first_wait=54)
    state.poll = Poll(state=PollState.FAILED, provider_status="TASK_STATUS_PROCESSING", polls=30)
    data = state.to_dict()
    data["error"] = error or {"code": "TIMED_OUT", "message": "still processing at the deadline", "stage": "poll",
                              "retryable": True}
    return as_handed_over(data)


def test_success_copies_the_video_writes_the_manifest_notifies_once_and_frees_the_slot(
    world, notification_validator
):
    w = world(VIDEO, ttl=3600)
    out = store(succeeded_state(), w.deps)

    assert w.copy.urls == ["https://cdn.example.com/v.mp4"]
    assert w.bucket.data("outputs/a/cat.mp4") == VIDEO

    manifest = w.bucket.json("outputs/a/cat.json")
    assert manifest["status"] == "SUCCEEDED"
    assert manifest["output"] == {
        "bucket": "media",
        "key": "outputs/a/cat.mp4",
        "size_bytes": len(VIDEO),
        "url": w.bucket.presign_get("outputs/a/cat.mp4", 3600, w.bucket.objects["outputs/a/cat.mp4"][-1].version_id),
        "url_expires_at": iso(w.clock() + 3600),
    }
    assert manifest["error"] is None
    assert manifest["provider"] == {"task_id": "task-1", "status": "TASK_STATUS_SUCCEED"}
    assert manifest["request"]["priority"] == "normal"
    assert manifest["timings"]["generation_seconds"] == 105.0
    notification_validator.validate(manifest)

    assert w.notifier.published == [manifest]
    assert w.capacity.in_flight() == 0
    assert w.waker.now == ["now"]  # the freed slot wakes the dispatcher at once
    item = w.jobs.get(JOB_ID)
    assert item["status"] == "SUCCEEDED"
    assert item["output_key"] == "outputs/a/cat.mp4" and item["size_bytes"] == len(VIDEO)
    assert isinstance(out, WorkflowState)
    assert out.error is None
    assert out.notification == {"status": "SUCCEEDED", "manifest_key": "outputs/a/cat.json"}
    assert json.loads(json.dumps(out.to_dict()))["notification"] == out.notification


def test_the_job_is_storing_while_the_video_is_copied(world):
    seen = []
    w = world()
    w.deps.copy_video = lambda url, upload: seen.append(w.jobs.get(JOB_ID)["status"]) or 0
    store(succeeded_state(), w.deps)
    assert seen == ["STORING"]


def test_failure_writes_the_manifest_notifies_once_and_frees_the_slot(world, notification_validator):
    w = world()
    out = store(failed_state(), w.deps)
    assert w.copy.urls == []
    assert not w.bucket.has("outputs/a/cat.mp4")
    manifest = w.bucket.json("outputs/a/cat.json")
    assert manifest["status"] == "FAILED"
    assert manifest["output"] is None
    assert manifest["error"]["code"] == "TIMED_OUT"
    notification_validator.validate(manifest)
    assert w.notifier.published == [manifest]
    assert w.capacity.in_flight() == 0
    assert w.waker.now == ["now"]
    assert w.jobs.get(JOB_ID)["status"] == "FAILED"
    assert out.notification["status"] == "FAILED"


def test_a_job_rejected_before_submission_is_reported_and_wakes_nobody(world, notification_validator):
    w = world(holds_slot=False)  # it never took a slot: nothing frees, nothing to wake for
    error = ErrorDetail(code="IMAGE_TOO_SMALL", message="200x200", stage=Stage.VALIDATE)
    store(as_handed_over(WorkflowState.rejected(job(), error)), w.deps)
    [note] = w.notifier.published
    assert note["error"] == error.to_dict()
    assert note["provider"] == {"task_id": None, "status": None}
    notification_validator.validate(note)
    assert w.waker.now == []


def test_a_step_functions_error_is_normalised(world):
    w = world()
    cause = json.dumps({"errorType": "VideoTransferError", "errorMessage": "reset after 3 MB"})
    out = store(failed_state({"Error": "VideoTransferError", "Cause": cause}), w.deps)
    [note] = w.notifier.published
    assert note["error"] == {"code": "VIDEO_DOWNLOAD_FAILED", "message": "VideoTransferError: reset after 3 MB",
                             "stage": "store", "retryable": True}
    assert out.error.code == "VIDEO_DOWNLOAD_FAILED"


def test_a_second_store_for_the_same_job_publishes_nothing_more_and_wakes_nobody(world):
    w = world(VIDEO, VIDEO)
    store(succeeded_state(), w.deps)
    store(succeeded_state(), w.deps)
    assert len(w.notifier.published) == 1
    assert w.bucket.json("outputs/a/cat.json")["status"] == "SUCCEEDED"
    assert w.waker.now == ["now"]  # the slot was freed once, so the dispatcher is woken once


def test_a_job_error_from_the_copy_becomes_a_failed_notification(world):
    w = world(VideoUnavailable("the provider's video URL answered 410", code="VIDEO_URL_EXPIRED"))
    out = store(succeeded_state(), w.deps)
    [note] = w.notifier.published
    assert note["status"] == "FAILED"
    assert note["output"] is None
    assert note["error"] == {"code": "VIDEO_URL_EXPIRED", "message": "the provider's video URL answered 410",
                             "stage": "store", "retryable": False}
    assert note["provider"]["task_id"] == "task-1"
    assert w.bucket.json("outputs/a/cat.json") == note
    assert w.capacity.in_flight() == 0
    assert w.waker.now == ["now"]
    assert out.error.code == "VIDEO_URL_EXPIRED"
    assert out.notification == {"status": "FAILED", "manifest_key": "outputs/a/cat.json"}


def test_a_too_large_video_fails_the_job(world):
    w = world(JobError("too big", code="VIDEO_TOO_LARGE", stage="store"))
    store(succeeded_state(), w.deps)
    assert w.notifier.published[0]["error"]["code"] == "VIDEO_TOO_LARGE"


def test_a_transient_transfer_error_propagates_so_the_workflow_retries(world):
    w = world(VideoTransferError("reset after 1 MB"), VIDEO)
    with pytest.raises(VideoTransferError):
        store(succeeded_state(), w.deps)
    assert w.notifier.published == []
    assert not w.bucket.has("outputs/a/cat.json")
    assert w.capacity.in_flight() == 1  # still ours until the job really ends
    assert w.waker.now == []

    store(succeeded_state(), w.deps)  # the workflow's retry
    assert [n["status"] for n in w.notifier.published] == ["SUCCEEDED"]
    assert w.capacity.in_flight() == 0
    assert w.waker.now == ["now"]


def test_a_failed_publish_can_be_retried(world):
    w = world(VIDEO, VIDEO)
    w.notifier.fail_next = RuntimeError("SNS throttled")
    with pytest.raises(RuntimeError):
        store(succeeded_state(), w.deps)
    assert w.notifier.published == []
    store(succeeded_state(), w.deps)
    assert len(w.notifier.published) == 1
    assert w.waker.now == ["now"]  # the slot went back on the first try; the retry frees nothing more


def test_a_lost_slot_lease_wakes_nobody(world, clock):
    w = world(VIDEO, slots=1)
    clock.advance(3600 + 1)  # the lease ran out (the job outlived it) and another job took the slot
    w.capacity.acquire("other-job", 3600)
    store(succeeded_state(), w.deps)
    assert w.waker.now == []
    assert w.capacity.in_flight() == 1  # the other job's slot is untouched


def test_reaching_store_with_neither_video_nor_error_is_an_internal_error(world):
    w = world()
    state = WorkflowState.started(job(), Task("task-1", "2025-12-31T23:58:05.000Z"), deadline_at=None, first_wait=1)
    out = store(as_handed_over(state), w.deps)
    [note] = w.notifier.published
    assert note["error"]["code"] == "INTERNAL_ERROR"
    assert note["error"]["stage"] == "store" and note["error"]["retryable"] is True
    assert out.error.code == "INTERNAL_ERROR"


# --- output names: the later upload wins, whatever the finish order -------------------------------------

OLDER, NEWER = "a" * 32, "b" * 32


def upload_job(job_id: str, key: str, uploaded_at: str) -> Job:
    j = job()
    j.job_id, j.uploaded_at = job_id, uploaded_at
    j.source = Source("media", key, f"v-{job_id[:4]}")
    j.image_key = key
    j.timings = {**j.timings, "uploaded_at": uploaded_at}
    return j


def finished(j: Job) -> WorkflowState:
    state = WorkflowState.started(j, Task("task-" + j.job_id[:4], "2025-12-31T23:58:05.000Z"), deadline_at=None,
                                  first_wait=54)
    state.poll = Poll(state=PollState.SUCCEEDED, video_url=f"https://cdn.example.com/{j.job_id[:4]}.mp4",
                      video_ttl=3600, provider_status="TASK_STATUS_SUCCEED", polls=4)
    return as_handed_over(state)


def video(tag: str) -> bytes:
    return VIDEO + tag.encode() * 100


def older() -> Job:  # uploads/a/cat.png, uploaded first
    return upload_job(OLDER, "uploads/a/cat.png", "2025-12-31T23:58:00.000Z")


def newer() -> Job:  # uploads/a/cat.jpg, uploaded a second later: the same output name
    return upload_job(NEWER, "uploads/a/cat.jpg", "2025-12-31T23:58:01.000Z")


def serves_what_it_says(note: dict, bucket, expected: bytes) -> None:
    """The notification's URL serves the bytes it describes (their size is its size_bytes)."""
    body = bucket.fetch(note["output"]["url"])
    assert body == expected and len(body) == note["output"]["size_bytes"]


def test_the_later_upload_finishing_last_takes_the_name_and_the_earlier_url_still_serves_its_video(
        world, notification_validator):
    w = world(video("old"), video("new"), holds_slot=False)
    store(finished(older()), w.deps)
    store(finished(newer()), w.deps)
    first, second = w.notifier.published
    assert first["output"]["key"] == second["output"]["key"] == "outputs/a/cat.mp4"
    assert w.bucket.data("outputs/a/cat.mp4") == video("new")
    assert w.bucket.json("outputs/a/cat.json") == second
    serves_what_it_says(first, w.bucket, video("old"))  # its URL names the version it wrote
    serves_what_it_says(second, w.bucket, video("new"))
    for note in (first, second):
        notification_validator.validate(note)


def test_an_older_upload_finishing_last_gets_a_name_of_its_own(world, notification_validator):
    w = world(video("new"), video("old"), holds_slot=False)
    out_new = store(finished(newer()), w.deps)
    out_old = store(finished(older()), w.deps)
    by_job = {n["job_id"]: n for n in w.notifier.published}
    assert by_job[NEWER]["output"]["key"] == "outputs/a/cat.mp4"
    assert by_job[OLDER]["output"]["key"] == f"outputs/a/cat.{OLDER[:8]}.mp4"
    assert w.bucket.data("outputs/a/cat.mp4") == video("new")  # the older never replaced the newer
    assert w.bucket.versions("outputs/a/cat.mp4") == 1
    assert w.bucket.json("outputs/a/cat.json") == by_job[NEWER]
    assert w.bucket.json(f"outputs/a/cat.{OLDER[:8]}.json") == by_job[OLDER]
    assert out_new.notification["manifest_key"] == "outputs/a/cat.json"
    assert out_old.notification["manifest_key"] == f"outputs/a/cat.{OLDER[:8]}.json"
    assert w.jobs.get(OLDER)["output_key"] == f"outputs/a/cat.{OLDER[:8]}.mp4"
    serves_what_it_says(by_job[OLDER], w.bucket, video("old"))
    serves_what_it_says(by_job[NEWER], w.bucket, video("new"))
    for note in by_job.values():
        notification_validator.validate(note)


def test_an_older_failure_finishing_last_never_replaces_the_newer_manifest(world):
    w = world(video("new"), holds_slot=False)
    store(finished(newer()), w.deps)
    late = finished(older())
    late.poll.state, late.error = PollState.FAILED, ErrorDetail(code="TIMED_OUT", message="late", stage=Stage.POLL)
    store(late, w.deps)
    assert w.bucket.json("outputs/a/cat.json")["job_id"] == NEWER
    assert w.bucket.json(f"outputs/a/cat.{OLDER[:8]}.json")["error"]["code"] == "TIMED_OUT"


class NewerMidway:
    """Runs the newer upload's whole store at one point of the older one's (the interleaving concurrent
    store functions can produce)."""

    def __init__(self, w, newer_copy: bytes) -> None:
        self.w, self.newer_copy, self.done = w, newer_copy, False

    def run(self) -> None:
        if not self.done:
            self.done = True
            older_copy = self.w.deps.copy_video
            self.w.deps.copy_video = CopyVideo(self.newer_copy)
            store(finished(newer()), self.w.deps)
            self.w.deps.copy_video = older_copy


@pytest.mark.parametrize("when", ["during the video copy", "before the confirmation"])
def test_a_newer_upload_claiming_the_name_while_the_older_writes_it_sends_the_older_to_its_own_name(
        world, notification_validator, when):
    w = world(video("old"), holds_slot=False)
    midway = NewerMidway(w, video("new"))
    if when == "during the video copy":  # the newer one's video lands first, the older one's on top of it
        copy = w.deps.copy_video

        def copy_video(url, upload):
            midway.run()
            return copy(url, upload)
        w.deps.copy_video = copy_video
    else:  # the older one wrote video and manifest; the newer claims and writes before the older confirms
        confirm = w.names.confirm

        def late_confirm(name, order, version_id):
            midway.run()
            return confirm(name, order, version_id)
        w.names.confirm = late_confirm
    store(finished(older()), w.deps)
    by_job = {n["job_id"]: n for n in w.notifier.published}
    assert by_job[NEWER]["output"]["key"] == "outputs/a/cat.mp4"
    assert by_job[OLDER]["output"]["key"] == f"outputs/a/cat.{OLDER[:8]}.mp4"
    assert w.bucket.data("outputs/a/cat.mp4") == video("new")  # the older one's version was taken back
    assert w.bucket.json("outputs/a/cat.json") == by_job[NEWER]
    assert w.bucket.json(f"outputs/a/cat.{OLDER[:8]}.json") == by_job[OLDER]
    serves_what_it_says(by_job[OLDER], w.bucket, video("old"))
    serves_what_it_says(by_job[NEWER], w.bucket, video("new"))
    for note in by_job.values():
        notification_validator.validate(note)


def test_without_versions_an_older_job_that_lost_the_name_while_writing_fetches_its_video_again(
        world, fakes, clock, notification_validator):
    w = world(video("old"), video("old"), holds_slot=False)
    w.bucket.versioned = False
    midway = NewerMidway(w, video("new"))
    confirm = w.names.confirm
    w.names.confirm = lambda *args: (midway.run(), confirm(*args))[1]
    store(finished(older()), w.deps)
    by_job = {n["job_id"]: n for n in w.notifier.published}
    assert w.copy.urls == [f"https://cdn.example.com/{OLDER[:4]}.mp4"] * 2  # fetched again into its own name
    assert by_job[OLDER]["output"]["key"] == f"outputs/a/cat.{OLDER[:8]}.mp4"
    assert w.bucket.data(f"outputs/a/cat.{OLDER[:8]}.mp4") == video("old")
    assert "versionId" not in by_job[OLDER]["output"]["url"]
    notification_validator.validate(by_job[OLDER])


def test_a_retried_store_keeps_the_name_it_holds(world):
    w = world(VideoTransferError("reset"), VIDEO)
    with pytest.raises(VideoTransferError):
        store(succeeded_state(), w.deps)
    store(succeeded_state(), w.deps)
    [note] = w.notifier.published
    assert note["output"]["key"] == "outputs/a/cat.mp4"
    assert w.names.items["outputs/a/cat.mp4"]["job_id"] == JOB_ID


# --- pay once per content: the store step's side ---------------------------------------------------------

ORIGIN_JOB = "fedcba9876543210fedcba9876543210"
CONTENT = "c" * 64


def _with_contents(w):
    import dataclasses

    from i2v_local.memory import MemoryContents

    contents = MemoryContents(w.bucket.meter)
    w.deps = dataclasses.replace(w.deps, contents=contents)
    return contents


def _content_job() -> Job:
    j = job()
    j.content_key = CONTENT
    return j


def test_a_produced_video_is_recorded_for_its_content_with_the_version_it_wrote(world):
    from i2v.contents import DONE

    w = world(VIDEO)
    contents = _with_contents(w)
    assert contents.produce(CONTENT, JOB_ID, until=w.clock() + 600, now=w.clock())
    state = succeeded_state()
    state.job = _content_job()
    state.job.price_usd = 0.13
    store(state, w.deps)
    origin = contents.items[CONTENT]
    written = w.bucket.objects["outputs/a/cat.mp4"][-1]
    assert (origin.state, origin.job_id, origin.key, origin.version_id) == (DONE, JOB_ID, "outputs/a/cat.mp4",
                                                                             written.version_id)
    assert (origin.bucket, origin.size_bytes, origin.price_usd) == ("media", len(VIDEO), 0.13)
    assert w.notifier.published[0]["cost"] == {"estimated_usd": 0.13}


def test_a_producer_that_fails_releases_its_content(world):
    w = world()
    contents = _with_contents(w)
    contents.produce(CONTENT, JOB_ID, until=w.clock() + 600, now=w.clock())
    state = failed_state()
    state.job = _content_job()
    store(state, w.deps)
    assert contents.items == {}  # the next job of the content makes it


def test_a_video_that_lost_its_download_releases_its_content(world):
    w = world(VideoUnavailable("410", code="VIDEO_URL_EXPIRED"))
    contents = _with_contents(w)
    contents.produce(CONTENT, JOB_ID, until=w.clock() + 600, now=w.clock())
    state = succeeded_state()
    state.job = _content_job()
    store(state, w.deps)
    assert contents.items == {}


def test_a_video_in_a_bucket_without_versions_is_never_recorded(world, fakes):
    w = world(VIDEO)
    w.bucket.versioned = False
    contents = _with_contents(w)
    contents.produce(CONTENT, JOB_ID, until=w.clock() + 600, now=w.clock())
    state = succeeded_state()
    state.job = _content_job()
    store(state, w.deps)
    assert contents.items == {} and w.notifier.published[0]["status"] == "SUCCEEDED"


def test_a_job_moved_to_its_own_name_records_the_version_under_that_name(world):
    """An older upload that lost the shared name while writing records where its video ended up."""
    w = world(VIDEO)
    contents = _with_contents(w)
    contents.produce(CONTENT, JOB_ID, until=w.clock() + 600, now=w.clock())
    real_confirm = w.names.confirm

    def newer_claims_first(name, order, version):
        w.names.claim(name, "9999-12-31T00:00:00.000Z#newer", "newer")
        return real_confirm(name, order, version)

    w.names.confirm = newer_claims_first
    state = succeeded_state()
    state.job = _content_job()
    store(state, w.deps)
    origin = contents.items[CONTENT]
    assert origin.key == f"outputs/a/cat.{JOB_ID[:8]}.mp4"
    assert w.bucket.fetch(w.bucket.presign_get(origin.key, 60, origin.version_id)) == VIDEO


def _reused_state(origin_key: str, origin_version: str) -> WorkflowState:
    from i2v.contents import DONE, Origin

    j = _content_job()
    j.price_usd = 0.0
    origin = Origin(content_key=CONTENT, job_id=ORIGIN_JOB, state=DONE, bucket="media", key=origin_key,
                    version_id=origin_version, size_bytes=len(VIDEO), price_usd=0.13)
    return as_handed_over(WorkflowState.reused(j, origin.to_dict()))


def test_a_reused_job_copies_the_earlier_version_server_side_and_says_where_from(world, notification_validator):
    w = world(holds_slot=False)  # no copy_video outcome scripted: nothing is downloaded
    contents = _with_contents(w)
    origin_version = w.bucket.put("outputs/b/dog.mp4", VIDEO, content_type="video/mp4")
    w.bucket.put("outputs/b/dog.mp4", b"a later video under that name")
    before = dict(w.bucket.meter.counts)
    out = store(_reused_state("outputs/b/dog.mp4", origin_version), w.deps)
    assert w.copy.urls == []
    assert w.bucket.data("outputs/a/cat.mp4") == VIDEO  # the origin's version, not its name's latest
    made = {k: v - before.get(k, 0) for k, v in w.bucket.meter.counts.items() if v - before.get(k, 0)}
    assert made.get("s3.CopyObject") == 1 and "s3.GetObject" not in made
    [note] = w.notifier.published
    assert note["status"] == "SUCCEEDED" and note["reused_from"] == ORIGIN_JOB
    assert note["cost"] == {"estimated_usd": 0.0}
    assert note["output"]["key"] == "outputs/a/cat.mp4" and note["output"]["size_bytes"] == len(VIDEO)
    assert w.bucket.fetch(note["output"]["url"]) == VIDEO
    notification_validator.validate(note)
    assert w.bucket.json("outputs/a/cat.json") == note
    assert contents.items == {}  # a copy records nothing: the origin stays the job that paid
    assert w.jobs.get(JOB_ID)["status"] == "SUCCEEDED" and out.error is None
    assert w.waker.now == []  # it held no slot


def test_a_reused_copy_that_fails_is_reported_once_and_releases_nothing(world):
    w = world(holds_slot=False)
    contents = _with_contents(w)
    contents.produce(CONTENT, ORIGIN_JOB, until=w.clock() + 600, now=w.clock())
    state = _reused_state("outputs/b/dog.mp4", "v-gone")
    data = state.to_dict()
    data["error"] = {"Error": "KeyError", "Cause": json.dumps({"errorType": "KeyError", "errorMessage": "NoSuchVersion"})}
    store(as_handed_over(data), w.deps)  # the workflow's catch sends the failed copy to NotifyFailure
    [note] = w.notifier.published
    assert note["status"] == "FAILED" and note["cost"] == {"estimated_usd": 0.0}
    assert contents.items[CONTENT].job_id == ORIGIN_JOB  # another job's producer record is not touched
