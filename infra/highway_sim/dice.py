"""One seeded, lock-guarded random source for every draw the simulator makes.

A single source means a seed replays the same faults, timings and task ids when requests
arrive in the same order.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class Dice:
    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def chance(self, probability: float) -> bool:
        """True with the given probability; 0 and 1 are exact and consume no randomness."""
        if probability <= 0.0:
            return False
        if probability >= 1.0:
            return True
        with self._lock:
            return self._rng.random() < probability

    def uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self._rng.uniform(low, high)

    def choice(self, items: Sequence[T]) -> T:
        with self._lock:
            return self._rng.choice(items)

    def randint(self, low: int, high: int) -> int:
        with self._lock:
            return self._rng.randint(low, high)

    def task_id(self) -> str:
        """A uuid4 hex drawn from the seeded source (reproducible, unlike uuid.uuid4)."""
        with self._lock:
            bits = self._rng.getrandbits(128)
        return uuid.UUID(int=bits, version=4).hex
