"""A job that ends before polling: its failure goes down the workflow's failure path, so it gets
its manifest and its one notification from the store step like every other job."""

from __future__ import annotations

from typing import Any, Protocol

from i2v.clock import Clock, iso
from i2v.contracts.errors import ErrorDetail
from i2v.contracts.job import Job
from i2v.contracts.state import WorkflowState
from i2v.contracts.status import JobStatus
from i2v.jobs import keys
from i2v.observability import logger


class WorkflowStarter(Protocol):
    def start(self, name: str, state: dict[str, Any]) -> bool: ...


class JobUpdates(Protocol):
    def update(self, job_id: str, **fields: Any) -> None: ...


def reject(job: Job, error: ErrorDetail, redrive: int, *, workflow: WorkflowStarter, jobs: JobUpdates,
           clock: Clock) -> None:
    """Start the failure report for ``job`` (idempotent by workflow name) and record it as FAILING."""
    state = WorkflowState.rejected(job, error)
    workflow.start(keys.execution_name(job.job_id, redrive), state.to_dict())
    jobs.update(job.job_id, status=JobStatus.FAILING.value, error=error.to_dict(), request=job.request,
                updated_at=iso(clock()))
    logger.info("job rejected", extra={"error_code": error.code, "stage": error.stage.value})
