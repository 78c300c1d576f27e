"""Publish a job's notification (or a batch's summary) on its two channels: an EventBridge bus, as one
event, and the SNS topic, with its filterable message attributes.

The event: ``Source`` ``i2v``; ``DetailType`` ``Video Succeeded`` or ``Video Failed`` for an
``i2v.notification/v1`` document (by its ``status``), ``Batch Completed`` for an ``i2v.batch/v1`` one;
``Detail`` the document itself, byte for byte the SNS message; on the bus the stack names (the
account's default bus unless ``eventBusName`` says otherwise).

Order, and what a retry repeats. The store step calls :meth:`Notifier.publish` once per job, under
the notification's claim in the jobs table; when ``publish`` raises, the claim is released and the
workflow's retry publishes again. Two requests to two services cannot be made atomic, so one of them
may have to be repeated, and the order chooses which:

1. EventBridge first. A ``PutEvents`` that fails (the call raises, or the reply counts a failed entry
   in ``FailedEntryCount``) raises :class:`EventNotPut` before anything went to SNS: the retry sends
   both, each once.
2. SNS second, only after the event was put. If SNS fails, the retry puts the event a second time
   and publishes to SNS once: the SNS message, which people and email subscriptions read, is never
   duplicated by a retry; a repeated event is rare (SNS failed after EventBridge took the event) and
   is what EventBridge consumers already expect of it (delivery to targets is at least once; key
   on ``detail.job_id``, or ``detail.batch_id``).

Recording each channel's success instead (a flag per channel on the job's record) would avoid the
repeated event too, but costs a DynamoDB write on every job for a rare failure, and batch summaries
have no job record to hold it.
"""

from __future__ import annotations

import json
from typing import Any

from i2v import constants as c
from i2v.aws.clients import client
from i2v.notification import FAILED, SUCCEEDED, message_attributes

VIDEO_SUCCEEDED = "Video Succeeded"
VIDEO_FAILED = "Video Failed"
BATCH_COMPLETED = "Batch Completed"
DETAIL_TYPES = {SUCCEEDED: VIDEO_SUCCEEDED, FAILED: VIDEO_FAILED}
MAX_EVENT_BYTES = 256 * 1024  # PutEvents' limit per entry (and per request: one entry per request here)


class EventNotPut(RuntimeError):
    """EventBridge did not take the event (a failed entry in PutEvents' reply): publish again."""


def detail_type(document: dict[str, Any]) -> str:
    schema = document.get("schema")
    if schema == c.BATCH_SCHEMA:
        return BATCH_COMPLETED
    if schema == c.NOTIFICATION_SCHEMA and document.get("status") in DETAIL_TYPES:
        return DETAIL_TYPES[document["status"]]
    raise ValueError(f"no event for a document with schema {schema!r} and status {document.get('status')!r}")


def entry_size(entry: dict[str, Any]) -> int:
    """An entry's size as EventBridge counts it (UTF-8 bytes of its Source, DetailType, Detail and
    Resources, plus 14 for a Time)."""
    size = 14 if entry.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(name) or "").encode("utf-8"))
    return size + sum(len(str(r).encode("utf-8")) for r in entry.get("Resources") or ())


def event_entry(document: dict[str, Any], event_bus: str = c.DEFAULT_EVENT_BUS) -> dict[str, Any]:
    """The PutEvents entry for one document (documents are small; one that is not is a bug, not retried away)."""
    entry = {"Source": c.EVENT_SOURCE, "DetailType": detail_type(document),
             "Detail": json.dumps(document, ensure_ascii=False), "EventBusName": event_bus}
    size = entry_size(entry)
    if size > MAX_EVENT_BYTES:
        raise ValueError(f"the event for {document.get('job_id') or document.get('batch_id')} is {size} bytes; "
                         f"EventBridge takes at most {MAX_EVENT_BYTES}")
    return entry


class Notifier:
    def __init__(self, topic_arn: str, event_bus: str = c.DEFAULT_EVENT_BUS) -> None:
        self.topic_arn = topic_arn
        self.event_bus = event_bus
        self.sns = client("sns")
        self.events = client("events")

    def publish(self, notification: dict[str, Any]) -> str:
        """The event, then the SNS message (see the module's docstring for why in this order); the SNS
        message id."""
        self.put_event(notification)
        reply = self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=f"i2v job {notification['status'].lower()}"[:100],
            Message=json.dumps(notification, ensure_ascii=False),
            MessageAttributes=message_attributes(notification),
        )
        return str(reply["MessageId"])

    def put_event(self, document: dict[str, Any]) -> str:
        """Put the document on the bus; its event id. Raises EventNotPut when the entry failed."""
        reply = self.events.put_events(Entries=[event_entry(document, self.event_bus)])
        entries = reply.get("Entries") or [{}]
        if reply.get("FailedEntryCount") or entries[0].get("ErrorCode") or not entries[0].get("EventId"):
            raise EventNotPut(f"EventBridge did not take the event on bus {self.event_bus!r}: "
                              f"{entries[0].get('ErrorCode')} {entries[0].get('ErrorMessage') or ''}".rstrip())
        return str(entries[0]["EventId"])
