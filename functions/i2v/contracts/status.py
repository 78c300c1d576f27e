"""Where a job is in its life, where a poll is, and which stage an error belongs to."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """The jobs table's ``status``, in the order a job moves through them."""

    RECEIVED = "RECEIVED"  # its event arrived; the job is being built and validated
    HELD = "HELD"  # an image waiting out the grace period in which a job file may claim it
    QUEUED = "QUEUED"  # valid and parked in the backlog, waiting for capacity (no AWS request while it waits)
    SUBMITTING = "SUBMITTING"  # taken from the backlog by a dispatcher: capacity, provider, workflow
    GENERATING = "GENERATING"  # the provider has the task; the workflow polls it
    STORING = "STORING"  # the video is being copied into the bucket
    FAILING = "FAILING"  # ended before polling; its failure notification is on its way
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    DEAD_LETTER = "DEAD_LETTER"  # its event failed every delivery and waits in the dead-letter queue
    CLAIMED = "CLAIMED"  # an image a job file named within the grace period: that job's input, not a job itself

    @property
    def started(self) -> bool:
        """The job has left the backlog for good: a duplicate event must not touch it."""
        return self in _STARTED

    @property
    def ended(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


_STARTED = frozenset({JobStatus.GENERATING, JobStatus.STORING, JobStatus.FAILING, JobStatus.SUCCEEDED,
                      JobStatus.FAILED, JobStatus.CLAIMED})


class PollState(StrEnum):
    """``$.poll.state`` in the workflow state: the ASL's IsVideoReady choice reads it."""

    WAITING = "WAITING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class Stage(StrEnum):
    """The notification's ``error.stage``."""

    VALIDATE = "validate"
    SUBMIT = "submit"
    POLL = "poll"
    STORE = "store"


class Priority(StrEnum):
    """A job's place in the backlog: high goes before normal, normal before low; FIFO within each."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}
