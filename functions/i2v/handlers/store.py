"""Store Lambda, the end of every job: video to S3 (on success), manifest, one notification."""

from __future__ import annotations

from i2v.observability import bind_job, logger, metrics, tracer
from i2v.runtime import store_deps
from i2v.steps.store import store


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    bind_job(event["job"]["job_id"], (event.get("task") or {}).get("task_id"))
    return store(event, store_deps())
