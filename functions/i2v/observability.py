"""The one place that builds Powertools Logger, Tracer and Metrics for every function."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from i2v import constants as c

logger = Logger(service=c.SERVICE_NAME)
tracer = Tracer(service=c.SERVICE_NAME)
metrics = Metrics(namespace=c.METRICS_NAMESPACE, service=c.SERVICE_NAME)


def count_by(name: str, dimension: str, value: str) -> None:
    """A count with one extra dimension (error code, provider reason), published on its own so the
    plain, service-level metrics of the same invocation keep their single dimension."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=c.METRICS_NAMESPACE,
                       default_dimensions={"service": c.SERVICE_NAME}) as metric:
        metric.add_dimension(name=dimension, value=value or "UNKNOWN")


def provider_error(reason: str) -> None:
    """Every provider error: the total (alarms, dashboard) and the count by reason."""
    metrics.add_metric(name=c.METRIC_PROVIDER_ERRORS, unit="Count", value=1)
    count_by(c.METRIC_PROVIDER_ERRORS_BY_REASON, "reason", reason)


def bind_job(job_id: str | None, task_id: str | None = None) -> None:
    """Put the job id and task id on every following log line of this invocation."""
    logger.append_keys(job_id=job_id, task_id=task_id)
