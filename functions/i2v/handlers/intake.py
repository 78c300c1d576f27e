"""Intake Lambda: SQS batch of S3 events -> validated jobs parked in the backlog (or failed at once)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.s3_event import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from i2v import constants as c
from i2v.aws.queue import REDRIVE_ATTRIBUTE
from i2v.jobs.keys import decode_event_key
from i2v.observability import logger, metrics, tracer
from i2v.runtime import intake_deps, intake_requeue, intake_waker
from i2v.steps.batch import CHUNK_KIND, RESUME_KIND, Chunk, resumed_batch, take_rows
from i2v.steps.dead_letter import mark_dead_letter
from i2v.steps.intake import Outcome, Upload, take

processor = BatchProcessor(event_type=EventType.SQS)


class _Batch:
    parked = 0
    held = 0
    seconds_left: Any = staticmethod(lambda: 900.0)
    budget: float = c.INTAKE_RECORD_BUDGET_SECONDS


def uploads(record: SQSRecord) -> list[Upload]:
    """The uploads in one SQS message: S3's event (Powertools' data class), or nothing for S3's test event."""
    try:
        body = json.loads(record.body)
    except (TypeError, ValueError, RecursionError):
        raise ValueError("message body is not JSON; expected an S3 event notification") from None
    if not isinstance(body, dict):
        raise ValueError("message body is not a JSON object; expected an S3 event notification")
    if body.get("Event") == "s3:TestEvent":
        return []
    if not isinstance(body.get("Records"), list):
        raise ValueError("message body has no Records list; expected an S3 event notification")
    attribute = record.message_attributes[REDRIVE_ATTRIBUTE] if REDRIVE_ATTRIBUTE in record.message_attributes else None
    redrive = int(attribute.string_value or 0) if attribute is not None else 0
    out = []
    for s3_record in S3Event(body).records:
        obj = s3_record.s3.get_object
        out.append(Upload(event_name=s3_record.event_name, bucket=s3_record.s3.bucket.name,
                          key=decode_event_key(obj.key), version_id=obj.version_id, etag=obj.etag or None,
                          sequencer=obj.get("sequencer"), event_time=s3_record.get("eventTime"), redrive=redrive))
    return out


def _outcomes(record: SQSRecord) -> list[Outcome]:
    """Take what one message holds: an S3 event's uploads, or some rows of a batch file."""
    body = json.loads(record.body) if record.body.lstrip().startswith("{") else None
    if isinstance(body, dict) and body.get("kind") == CHUNK_KIND:
        return take_rows(Chunk.from_message(body), intake_deps(), intake_requeue())
    if isinstance(body, dict) and body.get("kind") == RESUME_KIND:
        deps = intake_deps()
        assert deps.on_batch is not None
        return [deps.on_batch(*resumed_batch(body))]
    return [take(upload, intake_deps()) for upload in uploads(record)]


@tracer.capture_method
def handle_message(record: SQSRecord) -> None:
    if _Batch.seconds_left() < _Batch.budget:
        raise TimeoutError("the function's time is nearly up; the queue delivers this event again")
    try:
        for outcome in _outcomes(record):
            _Batch.parked += outcome == Outcome.PARKED
            _Batch.held += outcome == Outcome.HELD
    except Exception as exc:
        receives = int(record.attributes.approximate_receive_count or 1)
        last = receives >= c.MAX_RECEIVE_COUNT
        logger.exception("an upload event could not be processed; " + (
            "it moves to the dead-letter queue" if last else "the queue delivers it again"),
            extra={"message_id": record.message_id, "receive_count": receives, "reason": f"{type(exc).__name__}: {exc}"[:500]})
        if last:
            mark_dead_letter(record.body, f"{type(exc).__name__}: {exc}"[:500], intake_deps())
        raise


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _Batch.parked = _Batch.held = 0
    _Batch.seconds_left = lambda: context.get_remaining_time_in_millis() / 1000
    _Batch.budget = min(c.INTAKE_RECORD_BUDGET_SECONDS, _Batch.seconds_left() / 2)
    reply = process_partial_response(event=event, record_handler=handle_message, processor=processor, context=context)
    if _Batch.parked:
        intake_waker().wake("parked")
    if _Batch.held:  # images waiting out their grace period: look again when it ends
        intake_waker().wake_later(intake_deps().settings.image_grace_seconds + 1, "grace over")
    return dict(reply)
