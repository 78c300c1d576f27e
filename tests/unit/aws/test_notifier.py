"""The notifier (i2v.aws.notifier) on moto's in-process SNS, EventBridge and SQS: no socket is opened.

What goes out (the SNS message and the EventBridge entry, read back through a subscription and a rule as
a subscriber would), the detail types, a PutEvents that partly fails, and the order that keeps a retry
from sending a second SNS message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from i2v import constants as c
from i2v import runtime  # imported at collection: its tracer opens a UDP socket, blocked in tests
from i2v.aws.notifier import (
    BATCH_COMPLETED,
    MAX_EVENT_BYTES,
    VIDEO_FAILED,
    VIDEO_SUCCEEDED,
    EventNotPut,
    Notifier,
    detail_type,
    entry_size,
    event_entry,
)

REGION = "us-east-1"
BUS = "catalogue"


def notification(status: str = "SUCCEEDED", job_id: str = "0123456789abcdef0123456789abcdef") -> dict[str, Any]:
    ok = status == "SUCCEEDED"
    return {
        "schema": c.NOTIFICATION_SCHEMA, "status": status, "job_id": job_id,
        "source": {"bucket": "media", "key": "uploads/shoe.png", "etag": "e1"},
        "request": {"mode": "Standard", "prompt": "a slow turntable — «sur fond blanc»", "negative_prompt": None,
                    "duration": 5, "guidance_scale": 0.5, "end_image_key": None, "image_key": "uploads/shoe.png",
                    "priority": "normal"},
        "provider": {"task_id": "t-1" if ok else None, "status": "TASK_STATUS_SUCCEED" if ok else None},
        "output": {"bucket": "media", "key": "outputs/shoe.mp4", "size_bytes": 8220,
                   "url": "https://media.s3.amazonaws.com/outputs/shoe.mp4?X-Amz-Signature=abc",
                   "url_expires_at": "2026-01-01T01:00:00.000Z"} if ok else None,
        "error": None if ok else {"code": "IMAGE_TOO_SMALL", "message": "the image is 200x150 px; expected each "
                                  "side at least 300 px", "stage": "validate", "retryable": False},
        "timings": {"uploaded_at": "2026-01-01T00:00:00.000Z", "submitted_at": None, "completed_at": None,
                    "notified_at": "2026-01-01T00:00:05.000Z", "queue_seconds": None, "generation_seconds": None,
                    "total_seconds": 5.0},
    }


def batch_summary() -> dict[str, Any]:
    return {"schema": c.BATCH_SCHEMA, "status": "COMPLETED", "batch_id": "b" * 32,
            "source": {"bucket": "media", "key": "uploads/items.csv"},
            "counts": {"total": 2, "succeeded": 1, "failed": 1}, "failures_by_code": {"INVALID_DURATION": 1},
            "failures": [{"row": 2, "job_id": "c" * 32, "code": "INVALID_DURATION", "message": "duration is 7"}],
            "cost": {"estimated_usd": 0.13}, "summary": {"bucket": "media", "key": "outputs/items.summary.json"},
            "timings": {"uploaded_at": "2026-01-01T00:00:00.000Z", "completed_at": "2026-01-01T00:01:00.000Z",
                        "total_seconds": 60.0}}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """moto's SNS, EventBridge and SQS: the topic with a queue subscribed, and on the default bus and on a
    named one a rule on `{"source": ["i2v"]}` sending to a queue of its own."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    runtime.reset()
    with mock_aws():
        sns, sqs, events = (boto3.client(s, region_name=REGION) for s in ("sns", "sqs", "events"))

        def queue(name: str) -> tuple[str, str]:
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

        topic = sns.create_topic(Name="i2v-notifications")["TopicArn"]
        sns_url, sns_arn = queue("sns-inbox")
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sns_arn)
        events.create_event_bus(Name=BUS)
        inboxes = {}
        for bus in (c.DEFAULT_EVENT_BUS, BUS):
            url, arn = queue(f"events-{bus}")
            events.put_rule(Name="i2v", EventBusName=bus, EventPattern=json.dumps({"source": [c.EVENT_SOURCE]}))
            events.put_targets(Rule="i2v", EventBusName=bus, Targets=[{"Id": "inbox", "Arn": arn}])
            inboxes[bus] = url

        def drain(url: str) -> list[dict[str, Any]]:
            out = []
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                for m in messages:
                    out.append(json.loads(m["Body"]))
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return out

        yield SimpleNamespace(
            topic=topic, events=events,
            sns_messages=lambda: drain(sns_url),
            bus_events=lambda bus=c.DEFAULT_EVENT_BUS: drain(inboxes[bus]))
    runtime.reset()


@pytest.fixture
def partial_failure(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The next PutEvents answers 200 with its entry failed (FailedEntryCount 1), as EventBridge does when
    it is throttled or has an internal failure for one entry."""
    from moto.events.models import EventsBackend

    real = EventsBackend.put_events
    remaining = [1]

    def put_events(self: Any, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if remaining[0]:
            remaining[0] -= 1
            return [{"ErrorCode": "InternalFailure", "ErrorMessage": "internal failure"} for _ in entries]
        return real(self, entries)

    monkeypatch.setattr(EventsBackend, "put_events", put_events)
    return remaining


# --- what goes out -----------------------------------------------------------------------------------

def test_a_video_goes_to_sns_and_to_the_bus_as_the_same_document(aws: SimpleNamespace) -> None:
    note = notification()
    message_id = Notifier(aws.topic).publish(note)

    [envelope] = aws.sns_messages()
    assert envelope["MessageId"] == message_id
    assert json.loads(envelope["Message"]) == note
    assert envelope["Subject"] == "i2v job succeeded"
    assert envelope["MessageAttributes"]["status"]["Value"] == "SUCCEEDED"
    [event] = aws.bus_events()
    assert event["source"] == "i2v"
    assert event["detail-type"] == VIDEO_SUCCEEDED == "Video Succeeded"
    assert event["detail"] == note == json.loads(envelope["Message"])
    assert aws.bus_events(BUS) == []


def test_a_failure_is_video_failed(aws: SimpleNamespace) -> None:
    note = notification("FAILED")
    Notifier(aws.topic).publish(note)
    [event] = aws.bus_events()
    assert (event["detail-type"], event["detail"]) == (VIDEO_FAILED, note)
    assert VIDEO_FAILED == "Video Failed"


def test_a_batch_summary_is_batch_completed(aws: SimpleNamespace) -> None:
    summary = batch_summary()
    Notifier(aws.topic).publish(summary)
    [event] = aws.bus_events()
    assert (event["detail-type"], event["detail"]) == (BATCH_COMPLETED, summary)
    assert BATCH_COMPLETED == "Batch Completed"
    assert [json.loads(m["Message"]) for m in aws.sns_messages()] == [summary]


def test_a_named_bus_gets_the_event_and_the_default_bus_nothing(aws: SimpleNamespace) -> None:
    Notifier(aws.topic, BUS).publish(notification())
    assert [e["detail-type"] for e in aws.bus_events(BUS)] == [VIDEO_SUCCEEDED]
    assert aws.bus_events() == []


def test_the_entry() -> None:
    note = notification()
    entry = event_entry(note, BUS)
    assert entry == {"Source": "i2v", "DetailType": "Video Succeeded", "EventBusName": BUS,
                     "Detail": json.dumps(note, ensure_ascii=False)}
    assert "«" in entry["Detail"]  # UTF-8, as the SNS message: the limit counts bytes
    assert entry_size(entry) == len("i2v") + len("Video Succeeded") + len(entry["Detail"].encode())
    assert entry_size({**entry, "Time": "2026-01-01T00:00:00Z", "Resources": ["arn:x"]}) == entry_size(entry) + 14 + 5


@pytest.mark.parametrize("document", [{"schema": "i2v.notification/v1", "status": "RUNNING"},
                                      {"schema": "i2v.notification/v2", "status": "SUCCEEDED"},
                                      {"status": "SUCCEEDED"}])
def test_a_document_with_no_event_of_its_own_is_refused(document: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="no event"):
        detail_type(document)


# --- size ----------------------------------------------------------------------------------------

def test_the_largest_notification_and_batch_summary_fit_in_one_entry() -> None:
    """Every field at its bound, in 4-byte characters: a prompt shown as given on a failure (2 x PROMPT_MAX),
    the negative prompt too, 1024-byte keys, the longest error message; a summary's 100 listed failures."""
    wide = "\U0001F3AC"  # 4 bytes in UTF-8
    key = "uploads/" + "k" * 1016
    note = notification("FAILED")
    note["source"] = {"bucket": "b" * 63, "key": key, "version_id": "v" * 64, "etag": "e" * 64, "sequencer": "s" * 64}
    note["request"] |= {"prompt": wide * 2 * c.PROMPT_MAX, "negative_prompt": wide * 2 * c.PROMPT_MAX,
                        "end_image_key": key, "image_key": key}
    note["error"] |= {"code": "X" * 64, "message": wide * 1000}
    note["batch"] = {"batch_id": "b" * 32, "row": 100_000, "key": key}
    note["output"] = {"bucket": "b" * 63, "key": "outputs/" + "k" * 1016, "size_bytes": 1,
                      "url": "https://x/" + "%F0%9F%8E%AC" * 1024 + "?X-Amz-Signature=" + "s" * 2000,
                      "url_expires_at": "2026-01-01T01:00:00.000Z"}
    biggest = entry_size(event_entry(note))
    assert biggest < MAX_EVENT_BYTES / 2, biggest

    from i2v.batch import MAX_LISTED_FAILURES

    summary = batch_summary()
    summary["source"] = {"bucket": "b" * 63, "key": key, "version_id": "v" * 64, "etag": "e" * 64}
    summary["failures"] = [{"row": 100_000 - i, "job_id": "c" * 32, "code": "X" * 64, "message": wide * 300}
                           for i in range(MAX_LISTED_FAILURES)]
    summary["failures_by_code"] = {f"CODE_{i}": 1 for i in range(60)}
    assert entry_size(event_entry(summary)) < MAX_EVENT_BYTES, entry_size(event_entry(summary))  # about 135 KB


def test_a_document_over_the_limit_is_refused_before_anything_is_sent(aws: SimpleNamespace) -> None:
    note = notification()
    note["request"]["prompt"] = "x" * MAX_EVENT_BYTES
    with pytest.raises(ValueError, match="at most 262144"):
        Notifier(aws.topic).publish(note)
    assert aws.sns_messages() == [] and aws.bus_events() == []


# --- failures and retries ------------------------------------------------------------------------

def test_a_partly_failed_put_events_raises_and_sends_nothing_to_sns(aws: SimpleNamespace, partial_failure: Any) -> None:
    notifier = Notifier(aws.topic)
    with pytest.raises(EventNotPut, match="InternalFailure"):
        notifier.publish(notification())
    assert aws.sns_messages() == [] and aws.bus_events() == []

    notifier.publish(notification())  # the retry
    assert len(aws.sns_messages()) == 1 and len(aws.bus_events()) == 1


def test_put_events_failing_as_a_call_raises_and_sends_nothing_to_sns(aws: SimpleNamespace) -> None:
    aws.events.delete_event_bus(Name=BUS)  # a bus that is gone (or a role without events:PutEvents on it)
    with pytest.raises(Exception) as raised:
        Notifier(aws.topic, BUS).publish(notification())
    assert not isinstance(raised.value, ValueError)
    assert aws.sns_messages() == []


class _SnsFailingOnce:
    """The SNS client, whose next publish fails after EventBridge took the event."""

    def __init__(self, sns: Any) -> None:
        self.sns, self.failed = sns, False

    def publish(self, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise ConnectionError("SNS unreachable")
        return self.sns.publish(**kwargs)


def test_sns_failing_after_the_event_is_retried_without_a_second_sns_message(aws: SimpleNamespace) -> None:
    """The one repeat the order allows: the event (at least once, as EventBridge delivers anyway)."""
    notifier = Notifier(aws.topic)
    notifier.sns = _SnsFailingOnce(notifier.sns)
    with pytest.raises(ConnectionError):
        notifier.publish(notification())
    notifier.publish(notification())  # the retry
    assert len(aws.sns_messages()) == 1
    events = aws.bus_events()
    assert len(events) == 2 and events[0]["detail"] == events[1]["detail"]  # same job_id: consumers dedupe on it


# --- under the store step's claim: once per job ------------------------------------------------------

def _failed_state() -> Any:
    from i2v.contracts.job import Job, JobKind, Pin, Source
    from i2v.contracts.state import Poll, Task, WorkflowState
    from i2v.contracts.status import PollState, Stage

    job = Job(job_id="0123456789abcdef0123456789abcdef", kind=JobKind.IMAGE,
              source=Source("media", "uploads/a/cat.png", "v1", "e1"), video_key="outputs/a/cat.mp4",
              manifest_key="outputs/a/cat.json", image_key="uploads/a/cat.png", image_pin=Pin(version_id="v1"),
              request={"mode": "Standard", "prompt": "a cat", "negative_prompt": None, "duration": 5,
                       "guidance_scale": 0.5, "end_image_key": None, "priority": "normal"},
              uploaded_at="2025-12-31T23:58:00.000Z", timings={"uploaded_at": "2025-12-31T23:58:00.000Z"})
    state = WorkflowState.started(job, Task("task-1", "2025-12-31T23:58:05.000Z"), deadline_at=None, first_wait=54)
    state.poll = Poll(state=PollState.FAILED, provider_status="TASK_STATUS_PROCESSING", polls=30)
    data = state.to_dict()
    data["error"] = {"code": "TIMED_OUT", "message": "still processing at the deadline", "stage": "poll",
                     "retryable": True}
    return WorkflowState.from_dict(json.loads(json.dumps(data)), Stage.POLL)


def test_the_store_step_retried_after_a_failed_put_events_sends_one_sns_message_and_one_event(
        aws: SimpleNamespace, partial_failure: Any, bucket: Any, jobs_table: Any, clock: Any) -> None:
    from i2v.steps.store import StoreDeps, store
    from i2v_local.memory import MemoryOutputNames

    deps = StoreDeps(bucket=bucket, notifier=Notifier(aws.topic), jobs=jobs_table, release_slot=lambda _job: True,
                     copy_video=lambda url, upload: 0, names=MemoryOutputNames(bucket.meter), clock=clock)
    with pytest.raises(EventNotPut):
        store(_failed_state(), deps)  # the claim is given back: the workflow's retry may publish
    assert aws.sns_messages() == []
    store(_failed_state(), deps)  # the workflow's retry
    store(_failed_state(), deps)  # and a duplicate run after it: the claim holds
    [envelope] = aws.sns_messages()
    [event] = aws.bus_events()
    assert event["detail-type"] == VIDEO_FAILED
    assert event["detail"] == json.loads(envelope["Message"])
    assert event["detail"]["error"]["code"] == "TIMED_OUT"


def test_the_in_memory_notifier_records_the_same_entry_in_the_same_order(fakes: Any) -> None:
    notifier = fakes.Notifier()
    notifier.fail_event_next = EventNotPut("throttled")
    with pytest.raises(EventNotPut):
        notifier.publish(notification())
    assert notifier.published == [] and notifier.events == []
    notifier.fail_next = ConnectionError("SNS unreachable")
    with pytest.raises(ConnectionError):
        notifier.publish(notification())
    notifier.publish(notification())
    assert len(notifier.published) == 1
    assert [e["DetailType"] for e in notifier.events] == [VIDEO_SUCCEEDED, VIDEO_SUCCEEDED]
    assert notifier.events[0] == {**event_entry(notification()), "Detail": notification()}
    assert notifier.meter.counts["events.PutEvents"] == 3 and notifier.meter.counts["sns.Publish"] == 2

