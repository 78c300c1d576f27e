"""The document that travels through the workflow: job, task, deadline, poll, error.

Built by the dispatcher, advanced by the status step, consumed by the store step. The ASL reads
only ``$.error`` (null or not), ``$.poll.state`` and ``$.poll.wait_seconds``; its Catch writes
Step Functions' own ``{Error, Cause}`` into ``$.error``, which ``from_dict`` turns into an
``ErrorDetail`` like every other error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from i2v.contracts.errors import ErrorDetail
from i2v.contracts.job import Job
from i2v.contracts.status import PollState, Stage


@dataclass
class Task:
    task_id: str
    submitted_at: str

    def to_dict(self) -> dict[str, str]:
        return {"task_id": self.task_id, "submitted_at": self.submitted_at}


@dataclass
class Poll:
    state: PollState = PollState.WAITING
    wait_seconds: int = 1
    polls: int = 0
    not_found: int = 0
    errors: int = 0
    provider_status: str | None = None
    progress_percent: float | None = None
    video_url: str | None = None
    video_ttl: int | None = None
    completed_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state.value, "wait_seconds": self.wait_seconds, "polls": self.polls,
                "not_found": self.not_found, "errors": self.errors, "provider_status": self.provider_status,
                "progress_percent": self.progress_percent, "video_url": self.video_url,
                "video_ttl": self.video_ttl, "completed_at": self.completed_at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Poll:
        return cls(state=PollState(data.get("state") or PollState.WAITING), wait_seconds=int(data.get("wait_seconds") or 1),
                   polls=int(data.get("polls") or 0), not_found=int(data.get("not_found") or 0),
                   errors=int(data.get("errors") or 0), provider_status=data.get("provider_status"),
                   progress_percent=data.get("progress_percent"), video_url=data.get("video_url"),
                   video_ttl=data.get("video_ttl"), completed_at=data.get("completed_at"))


@dataclass
class WorkflowState:
    job: Job
    task: Task | None = None
    deadline_at: float | None = None
    poll: Poll = field(default_factory=Poll)
    error: ErrorDetail | None = None
    notification: dict[str, Any] | None = None  # set by the store step: {"status", "manifest_key"}
    reuse: dict[str, Any] | None = None  # an earlier video of the same content to copy (i2v.contents.Origin)

    @classmethod
    def started(cls, job: Job, task: Task, deadline_at: float, first_wait: int) -> WorkflowState:
        return cls(job=job, task=task, deadline_at=deadline_at, poll=Poll(wait_seconds=first_wait))

    @classmethod
    def reused(cls, job: Job, origin: dict[str, Any]) -> WorkflowState:
        """A job whose video exists already: the ASL sends it straight to the store step, which copies it."""
        return cls(job=job, poll=Poll(state=PollState.SUCCEEDED), reuse=origin)

    @classmethod
    def rejected(cls, job: Job, error: ErrorDetail) -> WorkflowState:
        """A job that ends before polling: the ASL sends it straight to the failure report."""
        return cls(job=job, poll=Poll(state=PollState.FAILED), error=error)

    def fail(self, error: ErrorDetail) -> WorkflowState:
        self.poll.state = PollState.FAILED
        self.error = error
        return self

    @property
    def mode(self) -> str | None:
        return (self.job.request or {}).get("mode")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"job": self.job.to_dict(), "task": self.task.to_dict() if self.task else None,
                               "deadline_at": self.deadline_at, "poll": self.poll.to_dict(),
                               "error": self.error.to_dict() if self.error else None}
        if self.notification is not None:
            out["notification"] = self.notification
        if self.reuse is not None:
            out["reuse"] = self.reuse
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], stage_hint: Stage = Stage.POLL) -> WorkflowState:
        task = data.get("task")
        error = data.get("error")
        return cls(job=Job.from_dict(data["job"]),
                   task=Task(task_id=str(task["task_id"]), submitted_at=str(task["submitted_at"])) if task else None,
                   deadline_at=data.get("deadline_at"), poll=Poll.from_dict(data.get("poll") or {}),
                   error=ErrorDetail.from_document(error, stage_hint) if error else None,
                   notification=data.get("notification"), reuse=data.get("reuse"))
