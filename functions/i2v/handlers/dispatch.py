"""Dispatch Lambda: woken by its queue (a job ended or was parked, the rate window moved on) or by the
one-minute schedule; starts waiting jobs while capacity is free."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from i2v.observability import logger, metrics, tracer
from i2v.runtime import dispatcher, idempotency


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config, _layer = idempotency()
    config.register_lambda_context(context)
    scheduled = event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event"
    done = dispatcher().run(lambda: context.get_remaining_time_in_millis() / 1000, report=scheduled)
    # Wake messages carry nothing: every one of them is answered by this round.
    return {"batchItemFailures": [], "started": done.started, "failed": done.failed, "stopped": done.stopped,
            "backlog": done.backlog}
