"""Status Lambda: one poll of the provider; returns the workflow state with the next wait."""

from __future__ import annotations

from i2v.observability import bind_job, logger, metrics, tracer
from i2v.runtime import status_deps
from i2v.steps.check_status import check_status


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    bind_job(event["job"]["job_id"], (event.get("task") or {}).get("task_id"))
    state = check_status(event, status_deps())
    logger.info("polled", extra={"poll_state": state["poll"]["state"], "wait_seconds": state["poll"]["wait_seconds"],
                                 "provider_status": state["poll"]["provider_status"]})
    return state
