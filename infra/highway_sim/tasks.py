"""Task lifecycle on a clock: QUEUED, then PROCESSING, then SUCCEED or FAILED.

Status is derived from the clock when asked, never pushed by a timer thread: nothing runs
between polls, and a test can drive the lifecycle with a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import SimConfig
from .dice import Dice

QUEUED = "TASK_STATUS_QUEUED"
PROCESSING = "TASK_STATUS_PROCESSING"
SUCCEED = "TASK_STATUS_SUCCEED"
FAILED = "TASK_STATUS_FAILED"
TERMINAL = (SUCCEED, FAILED)
TASK_TYPES = {"Standard": "KLING_V16_I2V_STANDARD", "Professional": "KLING_V16_I2V_PROFESSIONAL"}
FAILURE_REASONS = (
    "generation failed: internal model error",
    "generation failed: output blocked by content moderation",
    "generation failed: worker timed out",
)
SLOW_FACTOR = 5.0


@dataclass
class Task:
    """One accepted submission. All ``*_at`` values are on the store's monotonic clock."""

    task_id: str
    mode: str
    duration: int
    created_at: float
    created_wall: float
    queue_s: float  # real seconds QUEUED
    gen_s: float  # real seconds of generation
    speed: float  # config speed at creation: converts real seconds back to provider seconds
    ttl: int  # advertised video URL TTL (provider seconds)
    seed: int
    hinted: bool  # False: this task never shows eta/progress_percent
    eta_bias: float  # eta is off by this relative amount, the same for every poll
    fail_reason: str | None = None  # set: the task fails ...
    fail_after_s: float = 0.0  # ... this many real seconds into generation
    video: bytes | None = None
    rendered_at: float | None = None
    render_error: str | None = None

    @property
    def task_type(self) -> str:
        return TASK_TYPES[self.mode]

    @property
    def started_at(self) -> float:
        return self.created_at + self.queue_s

    @property
    def generated_at(self) -> float:
        return self.started_at + self.gen_s

    def ended_at(self) -> float | None:
        """When the task reached a terminal status, or None while it is not known to end."""
        if self.fail_reason is not None:
            return self.started_at + self.fail_after_s
        if self.rendered_at is None:
            return None
        return max(self.generated_at, self.rendered_at)

    def status(self, now: float) -> tuple[str, str]:
        """(status, reason) at ``now``: PROCESSING lasts until generation time AND rendering are over."""
        if now < self.started_at:
            return QUEUED, ""
        end = self.ended_at()
        if end is None or now < end:
            return PROCESSING, ""
        if self.fail_reason is not None:
            return FAILED, self.fail_reason
        if self.render_error is not None:
            return FAILED, "generation failed: internal error while encoding the video"
        return SUCCEED, ""

    def expires_at(self) -> float | None:
        """Monotonic time the video URL dies: ttl/speed real seconds after success."""
        end = self.ended_at()
        if end is None or self.fail_reason is not None or self.render_error is not None:
            return None
        return end + self.ttl / self.speed

    def wall(self, at: float) -> float:
        return self.created_wall + (at - self.created_at)


def new_task(mode: str, duration: int, config: SimConfig, dice: Dice, now: float, now_wall: float) -> Task:
    """Draw a task's fate (timings, failure, hints) at submission, from the seeded dice."""
    low, high = config.standard_seconds if mode == "Standard" else config.professional_seconds
    gen_s = config.real(dice.uniform(low, high))
    if dice.chance(config.p_slow):
        gen_s *= SLOW_FACTOR
    task = Task(
        task_id=dice.task_id(),
        mode=mode,
        duration=duration,
        created_at=now,
        created_wall=now_wall,
        queue_s=config.real(dice.uniform(*config.queue_seconds)),
        gen_s=gen_s,
        speed=config.speed,
        ttl=config.video_url_ttl,
        seed=dice.randint(0, 2**31 - 1),
        hinted=not dice.chance(config.p_no_hints),
        eta_bias=dice.uniform(-config.hint_error, config.hint_error),
    )
    if dice.chance(config.p_task_failed):
        task.fail_reason = dice.choice(FAILURE_REASONS)
        task.fail_after_s = gen_s * dice.uniform(0.2, 1.0)
    return task


def result_body(task: Task, now: float, video_base: str, show_hints: bool) -> dict[str, Any]:
    """The Get Task Result reply for ``task`` at ``now``, shaped as the provider's (docs/provider.md)."""
    status, reason = task.status(now)
    end = task.ended_at()
    body_task: dict[str, Any] = {
        "task_id": task.task_id,
        "task_type": task.task_type,
        "status": status,
        "reason": reason,
    }
    if status == PROCESSING and show_hints and task.hinted:
        remaining = max(0.0, task.generated_at - now) * task.speed  # provider seconds
        body_task["eta"] = max(0, round(remaining * (1.0 + task.eta_bias)))
        done = (now - task.started_at) / task.gen_s if task.gen_s > 0 else 1.0
        body_task["progress_percent"] = min(99, max(0, int(done * 100)))
    videos = []
    expires = task.expires_at()
    if status == SUCCEED and expires is not None:
        videos.append({
            "video_url": f"{video_base}/videos/{task.task_id}.mp4?expires={int(task.wall(expires))}",
            "video_url_ttl": str(task.ttl),
            "video_type": "mp4",
        })
    return {
        "extra": {
            "seed": str(task.seed),
            "debug_info": {
                "submit_time_ms": _ms(task.created_wall),
                "execute_time_ms": _ms(task.wall(task.started_at)) if now >= task.started_at else "0",
                "complete_time_ms": _ms(task.wall(end)) if status in TERMINAL and end is not None else "0",
            },
        },
        "task": body_task,
        "videos": videos,
    }


def _ms(wall_seconds: float) -> str:
    return str(int(wall_seconds * 1000))


@dataclass
class TaskStore:
    """Every task by id, plus the peak of tasks in flight (created, not yet terminal)."""

    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    _tasks: dict[str, Task] = field(default_factory=dict)
    _peak: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, task: Task) -> None:
        with self._lock:
            self._tasks[task.task_id] = task
            # in-flight only grows when a task is created, so checking here catches every peak
            self._peak = max(self._peak, self._in_flight(task.created_at))

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def rendered(self, task_id: str, video: bytes | None, error: str | None) -> None:
        """Render pool callback: record the bytes (or the error) and when they were ready."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:  # forgotten by reset
                return
            task.video, task.render_error = video, error
            task.rendered_at = self.clock()

    def drop_expired_videos(self, now: float) -> None:
        """Free the bytes of videos whose URL died; their tasks stay queryable."""
        with self._lock:
            for task in self._tasks.values():
                expires = task.expires_at()
                if task.video is not None and expires is not None and now >= expires:
                    task.video = None

    def in_flight(self, now: float) -> int:
        with self._lock:
            return self._in_flight(now)

    @property
    def peak_in_flight(self) -> int:
        with self._lock:
            return self._peak

    def reset(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._peak = 0

    def _in_flight(self, now: float) -> int:
        return sum(1 for task in self._tasks.values() if task.status(now)[0] not in TERMINAL)
