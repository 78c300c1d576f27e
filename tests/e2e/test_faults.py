"""Nothing lost, nothing paid twice: the pipeline under faults, duplicates and crashes."""

from __future__ import annotations

import time

import pytest

from support import Pipeline, image_bytes

pytestmark = pytest.mark.e2e


def test_fault_suite_every_upload_ends_in_one_notification_and_nothing_is_paid_twice():
    from i2v_local.soak import run_soak

    report = run_soak(uploads=40, duplicate_delivery=1.0, p_submit_429=0.2, p_submit_5xx=0.1, p_result_5xx=0.1,
                      p_task_failed=0.05, p_video_404=0.05, max_in_flight=10, speed=60, timeout=240)
    assert report.uploads_without_notification == 0
    assert report.uploads_with_several_notifications == 0
    assert report.notifications == 40
    assert report.duplicates_paid == 0
    assert report.provider_tasks_created <= 40
    assert report.peak_in_flight <= report.in_flight_cap
    assert report.dlq_depth == 0
    assert report.duplicate_deliveries >= 40  # every upload event (and S3's own test event) twice
    assert not report.unexpected_failure_codes, report.failure_codes
    assert report.passed


def test_a_crash_right_after_the_provider_replies_never_pays_twice(monkeypatch, notification_validator):
    """The dispatch function dies between the provider's reply and its own bookkeeping."""
    from i2v.provider.client import HighwayClient
    from i2v_local.lambda_runner import LambdaCrash

    real_submit = HighwayClient.submit
    crashes = []

    def submit_then_crash(self, request):
        task_id = real_submit(self, request)
        if not crashes:
            crashes.append(task_id)
            raise LambdaCrash("killed after the provider created the task")
        return task_id

    monkeypatch.setattr(HighwayClient, "submit", submit_then_crash)
    with Pipeline(cloud_knobs={"visibility_timeout": 1, "function_timeouts": {"dispatch": 2.0}}) as p:
        p.put("uploads/crash.png", image_bytes())
        notes = p.wait_for(1, timeout=60, settle=3)
        stats = p.sim.stats()
        depths = p.cloud.queue_depths()
        in_flight = p.cloud.client("dynamodb").scan(TableName="i2v-control")["Items"]
    assert len(crashes) == 1
    assert stats["submit_requests"] == 1 and stats["tasks_created"] == 1  # paid once, never resubmitted
    assert len(notes) == 1
    note = notes[0]["notification"]
    notification_validator.validate(note)
    assert note["status"] == "FAILED" and note["error"]["code"] == "SUBMIT_OUTCOME_UNKNOWN"
    assert "not resubmitting" in note["error"]["message"]
    assert depths == {"queue": 0, "dlq": 0}
    assert not [i for i in in_flight if i["pk"]["S"].startswith("slot#") and "holder" in i]  # slot released


def test_a_lost_submit_reply_fails_the_job_without_resubmitting(notification_validator):
    with Pipeline(sim_knobs={"p_lost_reply": 1.0}) as p:
        p.put("uploads/lost.png", image_bytes())
        notes = p.wait_for(1, timeout=60, settle=2)
        stats = p.sim.stats()
    assert stats["tasks_created"] == 1 and stats["submit_requests"] == 1
    assert [n["notification"]["error"]["code"] for n in notes] == ["SUBMIT_OUTCOME_UNKNOWN"]


def test_a_truncated_video_is_retried_then_fails_and_leaves_no_half_video(notification_validator):
    with Pipeline(sim_knobs={"p_video_truncated": 1.0}) as p:
        p.put("uploads/cut.png", image_bytes())
        notes = p.wait_for(1, timeout=90)
        listed = p.s3.list_objects_v2(Bucket=p.bucket, Prefix="outputs/").get("Contents", [])
        video_requests = p.sim.stats()["video_requests"]
    note = notes[0]["notification"]
    notification_validator.validate(note)
    assert note["error"]["code"] == "VIDEO_DOWNLOAD_FAILED" and note["error"]["stage"] == "store"
    assert [o["Key"] for o in listed] == ["outputs/cut.json"]  # the manifest, never a partial video
    assert video_requests == 4  # the first try and three retries by the workflow


def test_a_poison_message_lands_in_the_dlq_and_can_be_redriven():
    from i2v_local.ops import Target, redrive_dead_letters

    with Pipeline(cloud_knobs={"visibility_timeout": 1}) as p:
        sqs = p.cloud.client("sqs")
        sqs.send_message(QueueUrl=p.cloud.queue_url, MessageBody="this is not an S3 event")
        end = time.monotonic() + 30
        while p.cloud.queue_depths()["dlq"] == 0 and time.monotonic() < end:
            time.sleep(0.5)
        assert p.cloud.queue_depths()["dlq"] == 1
        assert redrive_dead_letters(Target(endpoint_url=p.cloud.endpoint)) == 1
        assert p.cloud.queue_depths()["dlq"] == 0


def test_a_burst_ten_times_the_cap_starts_in_upload_order_at_the_cap():
    from i2v_local.soak import run_burst

    report = run_burst(uploads=30, max_in_flight=3, speed=60, timeout=300)
    assert report.notifications == report.succeeded == report.provider_tasks_created == 30
    assert report.peak_in_flight <= 3
    assert report.out_of_order_starts == 0, report
    # A freed slot is taken again at once: while uploads wait, the slots are held nearly all the time (2.6 of 3
    # seen here: a start takes a few tenths of a second of real time against a job's few seconds).
    assert report.mean_slots_held_while_waiting >= 0.75 * 3, report
    # How much of that the provider spends working depends on this machine: at 60x a workflow's shortest Wait
    # (1 s) is a minute of provider time, so a slot stays held a while after its video is ready (1.7 to 2.0 of
    # 3 seen here; make bench measures it at 20x). The old design, where a waiting upload found a freed slot
    # only when its own delayed message came back, kept about a quarter of the cap busy.
    assert report.mean_in_flight_while_waiting >= 0.45 * 3, report
    assert report.passed
