"""The one place that builds Powertools Logger, Tracer and Metrics for every function."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from i2v import constants as c

logger = Logger(service=c.SERVICE_NAME)
tracer = Tracer(service=c.SERVICE_NAME)
metrics = Metrics(namespace=c.METRICS_NAMESPACE, service=c.SERVICE_NAME)


def bind_job(job_id: str | None, task_id: str | None = None) -> None:
    """Put the job id and task id on every following log line of this invocation."""
    logger.append_keys(job_id=job_id, task_id=task_id)
