"""The store step, the end of every job (i2v.steps.store)."""

from __future__ import annotations

import io
import json
import random
from types import SimpleNamespace

import pytest

from i2v.capacity import Capacity, MemoryLeaseStore
from i2v.clock import iso
from i2v.errors import JobError, VideoTransferError
from i2v.models import Job, Source
from i2v.steps.store import StoreDeps, store
from i2v.video_transfer import VideoUnavailable
from i2v.workflow_state import POLL_SUCCEEDED, initial_state

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
def world(bucket, notifier, jobs_table, clock):
    def build(*copy_outcomes, ttl: int = 7 * 24 * 3600) -> SimpleNamespace:
        capacity = Capacity(MemoryLeaseStore(), 2, 20, 60.0, clock=clock, rng=random.Random(0))
        capacity.acquire(JOB_ID, 3600)
        copy = CopyVideo(*copy_outcomes)
        deps = StoreDeps(
            bucket=bucket,
            notifier=notifier,
            jobs=jobs_table,
            release_slot=capacity.release,
            copy_video=copy,
            download_url_ttl=ttl,
            clock=clock,
        )
        return SimpleNamespace(
            deps=deps,
            capacity=capacity,
            copy=copy,
            bucket=bucket,
            notifier=notifier,
            jobs=jobs_table,
            clock=clock,
        )

    return build


def job() -> Job:
    return Job(
        job_id=JOB_ID,
        kind="image",
        source=Source("media", "uploads/a/cat.png", "v1", "e1"),
        video_key="outputs/a/cat.mp4",
        manifest_key="outputs/a/cat.json",
        image_key="uploads/a/cat.png",
        request={
            "mode": "Standard",
            "prompt": "a cat",
            "negative_prompt": None,
            "duration": 5,
            "guidance_scale": 0.5,
            "end_image_key": None,
        },
        uploaded_at="2025-12-31T23:58:00.000Z",
        timings={
            "uploaded_at": "2025-12-31T23:58:00.000Z",
            "submitted_at": "2025-12-31T23:58:05.000Z",
            "completed_at": "2025-12-31T23:59:50.000Z",
        },
    )


def succeeded_state() -> dict:
    state = initial_state(
        job(), task_id="task-1", submitted_at="2025-12-31T23:58:05.000Z", deadline_at=None, first_wait=54
    )
    state["poll"].update(
        state=POLL_SUCCEEDED,
        video_url="https://cdn.example.com/v.mp4",
        video_ttl=3600,
        provider_status="TASK_STATUS_SUCCEED",
        polls=4,
    )
    return json.loads(json.dumps(state))  # as Step Functions hands it over


def failed_state(error: dict | None = None) -> dict:
    state = initial_state(
        job(), task_id="task-1", submitted_at="2025-12-31T23:58:05.000Z", deadline_at=None, first_wait=54
    )
    state["poll"].update(state="FAILED", provider_status="TASK_STATUS_PROCESSING", polls=30)
    state["error"] = error or {
        "code": "TIMED_OUT",
        "message": "still processing at the deadline",
        "stage": "poll",
        "retryable": True,
    }
    return json.loads(json.dumps(state))


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
        "url": w.bucket.presign_get("outputs/a/cat.mp4", 3600),
        "url_expires_at": iso(w.clock() + 3600),
    }
    assert manifest["error"] is None
    assert manifest["provider"] == {"task_id": "task-1", "status": "TASK_STATUS_SUCCEED"}
    assert manifest["timings"]["generation_seconds"] == 105.0
    notification_validator.validate(manifest)

    assert w.notifier.published == [manifest]
    assert w.capacity.in_flight() == 0
    item = w.jobs.get(JOB_ID)
    assert item["status"] == "SUCCEEDED"
    assert item["output_key"] == "outputs/a/cat.mp4" and item["size_bytes"] == len(VIDEO)
    assert out["error"] is None
    assert out["notification"] == {"status": "SUCCEEDED", "manifest_key": "outputs/a/cat.json"}


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
    assert w.jobs.get(JOB_ID)["status"] == "FAILED"
    assert out["notification"]["status"] == "FAILED"


def test_a_job_rejected_before_submission_is_reported(world, notification_validator):
    w = world()
    error = {"code": "IMAGE_TOO_SMALL", "message": "200x200", "stage": "validate", "retryable": False}
    state = initial_state(job(), task_id=None, submitted_at=None, deadline_at=None, first_wait=1, error=error)
    store(json.loads(json.dumps(state)), w.deps)
    [note] = w.notifier.published
    assert note["error"] == error
    assert note["provider"] == {"task_id": None, "status": None}
    notification_validator.validate(note)


def test_a_step_functions_error_is_normalised(world):
    w = world()
    cause = json.dumps({"errorType": "VideoTransferError", "errorMessage": "reset after 3 MB"})
    store(failed_state({"Error": "VideoTransferError", "Cause": cause}), w.deps)
    [note] = w.notifier.published
    assert note["error"]["code"] == "VIDEO_DOWNLOAD_FAILED"
    assert note["error"]["stage"] == "store"
    assert "reset after 3 MB" in note["error"]["message"]


def test_a_second_store_for_the_same_job_publishes_nothing_more(world):
    w = world(VIDEO, VIDEO)
    store(succeeded_state(), w.deps)
    store(succeeded_state(), w.deps)
    assert len(w.notifier.published) == 1
    assert w.bucket.json("outputs/a/cat.json")["status"] == "SUCCEEDED"


def test_a_job_error_from_the_copy_becomes_a_failed_notification(world):
    w = world(VideoUnavailable("the provider's video URL answered 410", code="VIDEO_URL_EXPIRED"))
    out = store(succeeded_state(), w.deps)
    [note] = w.notifier.published
    assert note["status"] == "FAILED"
    assert note["output"] is None
    assert note["error"] == {
        "code": "VIDEO_URL_EXPIRED",
        "message": "the provider's video URL answered 410",
        "stage": "store",
        "retryable": False,
    }
    assert note["provider"]["task_id"] == "task-1"
    assert w.bucket.json("outputs/a/cat.json") == note
    assert w.capacity.in_flight() == 0
    assert out["error"]["code"] == "VIDEO_URL_EXPIRED"


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

    store(succeeded_state(), w.deps)  # the workflow's retry
    assert [n["status"] for n in w.notifier.published] == ["SUCCEEDED"]
    assert w.capacity.in_flight() == 0


def test_a_failed_publish_can_be_retried(world):
    w = world(VIDEO, VIDEO)
    w.notifier.fail_next = RuntimeError("SNS throttled")
    with pytest.raises(RuntimeError):
        store(succeeded_state(), w.deps)
    assert w.notifier.published == []
    store(succeeded_state(), w.deps)
    assert len(w.notifier.published) == 1


def test_reaching_store_with_neither_video_nor_error_is_an_internal_error(world):
    w = world()
    state = initial_state(job(), task_id="task-1", submitted_at=None, deadline_at=None, first_wait=1)
    store(state, w.deps)
    [note] = w.notifier.published
    assert note["error"]["code"] == "INTERNAL_ERROR"
    assert note["error"]["stage"] == "store"
