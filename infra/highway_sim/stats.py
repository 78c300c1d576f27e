"""Counters the tests and benchmarks read back: requests, tasks, faults, duplicate images.

The simulator is the one place that sees every submission, so it is where "was anything
billed twice?" is answered (``duplicate_identities``).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

COUNTERS = ("submit_requests", "tasks_created", "rate_limited", "result_requests", "video_requests")
FAULTS = (
    "submit_429", "submit_5xx", "result_5xx", "task_failed", "lost_reply", "video_404", "video_truncated",
)


class SimStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._counters = dict.fromkeys(COUNTERS, 0)
            self._faults = dict.fromkeys(FAULTS, 0)
            self._submissions: list[dict[str, Any]] = []
            self._identities: Counter[str] = Counter()  # keeps first-seen order

    def count(self, name: str) -> None:
        with self._lock:
            self._counters[name] += 1

    def fault(self, name: str) -> None:
        with self._lock:
            self._faults[name] += 1

    def task_created(self, submission: dict[str, Any]) -> None:
        """Record a created (billed) task; ``submission`` carries its ``image_identity``."""
        with self._lock:
            self._counters["tasks_created"] += 1
            self._submissions.append(dict(submission))
            self._identities[submission["image_identity"]] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                **self._counters,
                "submissions": [dict(s) for s in self._submissions],
                "duplicate_identities": [ident for ident, n in self._identities.items() if n > 1],
                "faults": dict(self._faults),
            }
