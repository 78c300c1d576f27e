"""Time helpers: one clock type so logic can be driven by a fake clock in tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]  # seconds since the epoch


def system_clock() -> float:
    return time.time()


def iso(ts: float) -> str:
    """ISO-8601 UTC with milliseconds and a Z suffix."""
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
