"""Typed request and reply of the provider's submit and get-result calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUS_QUEUED = "QUEUED"
STATUS_PROCESSING = "PROCESSING"
STATUS_SUCCEED = "SUCCEED"
STATUS_FAILED = "FAILED"
STATUS_UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class SubmitRequest:
    image_url: str
    prompt: str
    mode: str | None = None
    end_image_url: str | None = None
    negative_prompt: str | None = None
    duration: int | None = None
    guidance_scale: float | None = None

    def body(self) -> dict[str, Any]:
        """Fields a job does not set are left out, not sent as null."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Video:
    url: str
    ttl_seconds: int | None
    video_type: str | None


@dataclass(frozen=True)
class TaskResult:
    task_id: str
    status: str  # one of the STATUS_* constants (normalised)
    raw_status: str
    reason: str | None = None
    eta: float | None = None
    progress_percent: float | None = None
    videos: list[Video] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def normalise_status(raw: str | None) -> str:
    """`TASK_STATUS_SUCCEED` -> `SUCCEED`; anything unknown -> UNKNOWN (treated as still running)."""
    value = (raw or "").upper().removeprefix("TASK_STATUS_")
    if value in (STATUS_QUEUED, STATUS_PROCESSING, STATUS_SUCCEED, STATUS_FAILED):
        return value
    if value in ("SUCCESS", "SUCCEEDED", "COMPLETED", "DONE"):
        return STATUS_SUCCEED
    if value in ("FAILURE", "ERROR", "CANCELLED", "CANCELED"):
        return STATUS_FAILED
    return STATUS_UNKNOWN


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def parse_task_result(doc: dict[str, Any], task_id: str) -> TaskResult:
    """Tolerant parse: extra fields ignored, hints optional, unknown statuses kept as UNKNOWN."""
    task = doc.get("task") or {}
    videos = []
    for item in doc.get("videos") or []:
        if isinstance(item, dict) and item.get("video_url"):
            ttl = _number(item.get("video_url_ttl"))
            videos.append(Video(url=str(item["video_url"]), ttl_seconds=int(ttl) if ttl is not None else None,
                                video_type=item.get("video_type")))
    raw_status = str(task.get("status") or "")
    return TaskResult(
        task_id=str(task.get("task_id") or task_id),
        status=normalise_status(raw_status),
        raw_status=raw_status,
        reason=task.get("reason") or None,
        eta=_number(task.get("eta")),
        progress_percent=_number(task.get("progress_percent")),
        videos=videos,
        extra=doc.get("extra") or {},
    )
