"""Sliding-window rate limit over submit requests, like the provider's per-account limit."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """Admits at most ``limit`` events in any window of ``window_s`` seconds.

    Only admitted requests enter the window, so a client that keeps hammering while limited
    is not locked out forever: it gets through once old requests age out.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._events: deque[float] = deque()

    def allow(self, limit: int, window_s: float) -> bool:
        now = self._clock()
        with self._lock:
            while self._events and self._events[0] <= now - window_s:
                self._events.popleft()
            if len(self._events) >= limit:
                return False
            self._events.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._events.clear()
