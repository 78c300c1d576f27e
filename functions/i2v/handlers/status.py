"""Status Lambda: one poll of the provider; returns the workflow state with the next wait."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from i2v.contracts.state import WorkflowState
from i2v.contracts.status import Stage
from i2v.observability import bind_job, logger, metrics, tracer
from i2v.runtime import status_deps
from i2v.steps.check_status import check_status


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.from_dict(event, Stage.POLL)
    bind_job(state.job.job_id, state.task.task_id if state.task else None)
    state = check_status(state, status_deps())
    logger.info("polled", extra={"poll_state": state.poll.state.value, "wait_seconds": state.poll.wait_seconds,
                                 "provider_status": state.poll.provider_status})
    return state.to_dict()
