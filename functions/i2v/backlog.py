"""The backlog: valid jobs parked until capacity frees, taken first in, first out (by priority).

A waiting job costs nothing while it waits: it is a record with an order key, read only when a
dispatcher has room for it. A dispatcher *claims* a job before working on it (a lease, so a crashed
dispatcher's claim runs out) and the job *leaves* the backlog only once it has started or ended.
This module holds the rules and the port; ``i2v.aws.backlog`` keeps it in DynamoDB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from i2v import constants as c
from i2v.contracts.job import BatchRef
from i2v.contracts.status import JobStatus, Priority

LANES = tuple(sorted(Priority, key=lambda p: p.rank))  # the order dispatchers read them in


_ROW_DIGITS = len(str(c.MAX_BATCH_ROWS))


def order_key(uploaded_at: str, job_id: str, batch: BatchRef | None = None) -> str:
    """Sorts by upload time (ISO-8601 UTC sorts as text), ties broken by job id; the rows of one batch file
    (which share its upload time) by row number, so a file's rows start in the order it lists them."""
    tie = f"{batch.batch_id}.{batch.row:0{_ROW_DIGITS}d}" if batch else job_id
    return f"{uploaded_at}#{tie}"


@dataclass(frozen=True)
class Waiting:
    """One backlog entry as a dispatcher sees it before claiming it."""

    job_id: str
    lane: Priority
    order: str
    status: JobStatus
    claimed_until: float | None = None
    not_before: float | None = None  # a provider error asked for a pause before this job's next try

    def available(self, now: float) -> bool:
        if self.status in (JobStatus.QUEUED, JobStatus.HELD):
            return self.not_before is None or self.not_before <= now
        return self.status == JobStatus.SUBMITTING and (self.claimed_until or 0.0) <= now

    @property
    def ghost(self) -> bool:
        """Started or ended, but still listed (a dispatcher died between the two): only needs removing."""
        return self.status.started

    @property
    def uploaded_at(self) -> str:
        return self.order.split("#", 1)[0]


class Backlog(Protocol):
    def park(self, job_id: str, priority: Priority, order: str, fields: Mapping[str, Any],
             status: JobStatus = JobStatus.QUEUED) -> bool:
        """Set the job QUEUED (or HELD) with its fields and list it; False when it was no longer RECEIVED."""
        ...

    def release_held(self, job_id: str, fields: Mapping[str, Any]) -> bool:
        """A HELD job (waiting for its image) becomes QUEUED in its place; False when it was not HELD."""
        ...

    def withdraw(self, job_id: str) -> bool:
        """A waiting image job a job file named: CLAIMED and off the backlog; False when it had started."""
        ...

    def head(self, limit: int) -> list[Waiting]:
        """Up to ``limit`` entries per lane, in dispatch order (lanes by priority, FIFO within a lane)."""
        ...

    def claim(self, job_id: str, until: float, now: float) -> dict[str, Any] | None:
        """Take the job for one dispatcher until ``until``; its whole record, or None when it is not available."""
        ...

    def unclaim(self, job_id: str, *, not_before: float | None = None, attempts: int | None = None) -> None:
        """Give the job back to the backlog, in its place (optionally not before a time)."""
        ...

    def leave(self, job_id: str) -> bool:
        """Take the job off the backlog (it started or ended); False when it was not listed."""
        ...

    def size(self) -> int: ...
