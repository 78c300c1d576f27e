"""Settings and fault knobs of the simulator.

One frozen dataclass so a running server can swap its whole configuration atomically
(``update_config``) and every request sees one consistent snapshot.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

FAULT_KNOBS = (
    "p_submit_429",
    "p_submit_5xx",
    "p_result_5xx",
    "p_task_failed",
    "p_slow",
    "p_lost_reply",
    "p_video_404",
    "p_video_truncated",
)
RANGE_FIELDS = ("standard_seconds", "professional_seconds", "queue_seconds")
PROBABILITY_FIELDS = FAULT_KNOBS + ("hint_probability", "p_no_hints")


def _knob(default: float, help_text: str) -> Any:
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class SimConfig:
    """Everything that shapes the simulated provider; all fields have defaults.

    Times are in the provider's (simulated) seconds; ``speed`` divides every one of them
    to get real seconds, so a run at speed 20 lasts a twentieth of the real thing.
    """

    speed: float = _knob(1.0, "divide every time (queue, generation, URL TTL, rate window) by this")
    seed: int | None = _knob(None, "RNG seed for reproducible runs")
    api_keys: Collection[str] | None = _knob(None, "accepted API keys; None accepts any non-empty key")
    rate_limit_per_minute: int = _knob(20, "submit requests allowed per sliding minute (60/speed real s)")
    standard_seconds: tuple[float, float] = _knob((60.0, 180.0), "generation time range, Standard")
    professional_seconds: tuple[float, float] = _knob((300.0, 420.0), "generation time range, Professional")
    queue_seconds: tuple[float, float] = _knob((2.0, 15.0), "time a task spends QUEUED first")
    hint_probability: float = _knob(0.7, "probability a PROCESSING result carries eta/progress_percent")
    hint_error: float = _knob(0.3, "relative error of eta (per task, up to this fraction)")
    p_no_hints: float = _knob(0.1, "probability a task never carries eta/progress_percent")
    full_size: bool = _knob(False, "render 720p/1080p at 30 fps instead of a 480 px preview at 15 fps")
    video_url_ttl: int = _knob(3600, "advertised video URL TTL; the URL dies after ttl/speed real s")
    fetch_timeout: float = _knob(10.0, "timeout (real s) for fetching image_url / end_image_url")
    p_submit_429: float = _knob(0.0, "submit answers 429 RATE_LIMIT_EXCEEDED (no task)")
    p_submit_5xx: float = _knob(0.0, "submit answers 500 CREATE_TASK_FAILED (no task)")
    p_result_5xx: float = _knob(0.0, "task-result answers 500 GET_RESULT_FAILED")
    p_task_failed: float = _knob(0.0, "task ends TASK_STATUS_FAILED")
    p_slow: float = _knob(0.0, "task generation time x5")
    p_lost_reply: float = _knob(0.0, "task created and billed, connection closed without a reply")
    p_video_404: float = _knob(0.0, "video download answers 404")
    p_video_truncated: float = _knob(0.0, "video download sends half the bytes, then closes")
    reply_delay_seconds: float = _knob(0.0, "every submit and task-result reply waits this long (real s): a slow provider")

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise JSON-ish input once, here
        speed = _number("speed", self.speed)
        if not speed > 0:
            raise ValueError("speed must be > 0")
        set_(self, "speed", speed)
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError("seed must be an integer or None")
        if self.api_keys is not None:
            if isinstance(self.api_keys, (str, bytes)) or not isinstance(self.api_keys, Collection):
                raise ValueError("api_keys must be a collection of strings or None")
            keys = frozenset(self.api_keys)
            if not all(isinstance(k, str) and k for k in keys):
                raise ValueError("api_keys must be non-empty strings")
            set_(self, "api_keys", keys)
        rate = self.rate_limit_per_minute
        if isinstance(rate, bool) or not isinstance(rate, int) or rate < 0:
            raise ValueError("rate_limit_per_minute must be an integer >= 0")
        for name in RANGE_FIELDS:
            set_(self, name, _range(name, getattr(self, name)))
        for name in PROBABILITY_FIELDS:
            value = _number(name, getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
            set_(self, name, value)
        hint_error = _number("hint_error", self.hint_error)
        if not 0.0 <= hint_error <= 1.0:
            raise ValueError("hint_error must be within [0, 1]")
        set_(self, "hint_error", hint_error)
        if not isinstance(self.full_size, bool):
            raise ValueError("full_size must be a boolean")  # noqa: TRY004 (one error type for bad config)
        ttl = self.video_url_ttl
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
            raise ValueError("video_url_ttl must be an integer > 0")
        timeout = _number("fetch_timeout", self.fetch_timeout)
        if not timeout > 0:
            raise ValueError("fetch_timeout must be > 0")
        set_(self, "fetch_timeout", timeout)
        delay = _number("reply_delay_seconds", self.reply_delay_seconds)
        if not 0 <= delay <= 120:
            raise ValueError("reply_delay_seconds must be from 0 to 120")
        set_(self, "reply_delay_seconds", delay)

    def replace(self, **overrides: Any) -> SimConfig:
        """A copy with some knobs changed; unknown names raise ValueError (not TypeError)."""
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **overrides)

    def real(self, provider_seconds: float) -> float:
        """Provider seconds -> real seconds at this speed."""
        return provider_seconds / self.speed

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view; API keys are shown only as a count, never in clear."""
        out = dataclasses.asdict(self)
        for name in RANGE_FIELDS:
            out[name] = list(out[name])
        if self.api_keys is not None:
            out["api_keys"] = f"<{len(self.api_keys)} key(s)>"
        return out


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number")
    return float(value)


def _range(name: str, value: Any) -> tuple[float, float]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Collection) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (low, high)")
    low, high = (_number(name, v) for v in value)
    if not 0.0 <= low <= high:
        raise ValueError(f"{name} must satisfy 0 <= low <= high")
    return (low, high)
