"""Store Lambda, the end of every job: video to S3 (on success), manifest, one notification."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from i2v.contracts.state import WorkflowState
from i2v.contracts.status import Stage
from i2v.observability import bind_job, logger, metrics, tracer
from i2v.runtime import store_deps
from i2v.steps.store import store


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.from_dict(event, Stage.POLL)
    bind_job(state.job.job_id, state.task.task_id if state.task else None)
    return store(state, store_deps()).to_dict()
