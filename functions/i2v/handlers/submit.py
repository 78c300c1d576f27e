"""Submit Lambda: SQS batch of S3 events -> validated, idempotent provider submissions."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from i2v.aws.queue import ATTEMPT_ATTRIBUTE, DEFERRAL_ATTRIBUTE, REDRIVE_ATTRIBUTE
from i2v.observability import logger, metrics, tracer
from i2v.runtime import idempotency, submitter
from i2v.steps.submit import Delivery

processor = BatchProcessor(event_type=EventType.SQS)


def _number_attribute(record: SQSRecord, name: str, default: int) -> int:
    attribute = (record.raw_event.get("messageAttributes") or {}).get(name) or {}
    try:
        return int(attribute.get("stringValue") or default)
    except (TypeError, ValueError):
        return default


@tracer.capture_method
def handle_message(record: SQSRecord) -> None:
    try:
        body = json.loads(record.body)
    except (TypeError, ValueError):
        logger.error("poison message: body is not JSON; it will go to the dead-letter queue",
                     extra={"message_id": record.message_id, "receive_count":
                            record.attributes.approximate_receive_count})
        raise
    if body.get("Event") == "s3:TestEvent":
        logger.info("skipping s3:TestEvent")
        return
    records = body.get("Records")
    if not isinstance(records, list):
        logger.error("poison message: no S3 event records; it will go to the dead-letter queue",
                     extra={"message_id": record.message_id})
        raise ValueError("message body has no Records list; expected an S3 event notification")
    for s3_record in records:
        submitter().process(Delivery(record=s3_record,
                                     attempt=_number_attribute(record, ATTEMPT_ATTRIBUTE, 1),
                                     deferrals=_number_attribute(record, DEFERRAL_ATTRIBUTE, 0),
                                     redrive=_number_attribute(record, REDRIVE_ATTRIBUTE, 0)))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    config, _layer = idempotency()
    config.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=handle_message, processor=processor, context=context)
