"""Backpressure: at most N tasks in flight at the provider and M submissions per rate window.

Both limits are sets of leased items in a control table, each taken with a conditional write,
so concurrent submit functions can never exceed them and a crashed holder frees its lease when
it expires. The store keeps the items; this module decides.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from i2v.clock import Clock, system_clock
from i2v.errors import AtCapacity


@dataclass(frozen=True)
class Lease:
    item: str
    holder: str | None
    until: float


class LeaseStore(Protocol):
    def read(self, items: list[str]) -> dict[str, Lease]: ...

    def try_take(self, item: str, holder: str, until: float, now: float) -> bool:
        """Take the item if it is free (no holder, or its lease ended before ``now``)."""

    def give_back(self, item: str, holder: str) -> bool:
        """Free the item if ``holder`` holds it."""


class Capacity:
    def __init__(self, store: LeaseStore, max_in_flight: int, per_window: int, window_seconds: float,
                 clock: Clock = system_clock, rng: random.Random | None = None) -> None:
        if max_in_flight < 1 or per_window < 1:
            raise ValueError("max_in_flight and per_window must be at least 1")
        self.store = store
        self.slots = [f"slot#{i}" for i in range(max_in_flight)]
        self.tokens = [f"rate#{i}" for i in range(per_window)]
        self.window = window_seconds
        self.clock = clock
        self.rng = rng or random.Random()

    def holding(self, job_id: str) -> str | None:
        for item, lease in self.store.read(self.slots).items():
            if lease.holder == job_id and lease.until > self.clock():
                return item
        return None

    def _take(self, items: list[str], holder: str, until: float) -> tuple[str | None, float]:
        now = self.clock()
        leases = self.store.read(items)
        free = [i for i in items if i not in leases or leases[i].holder is None or leases[i].until <= now]
        self.rng.shuffle(free)
        for item in free:
            if self.store.try_take(item, holder, until, now):
                return item, 0.0
        soonest = min((lease.until for lease in leases.values() if lease.until > now), default=now + 1)
        return None, max(1.0, soonest - now)

    def acquire(self, job_id: str, lease_seconds: float) -> str:
        """Take an in-flight slot and a rate token for ``job_id``; raise AtCapacity when full."""
        slot = self.holding(job_id)
        taken_now = slot is None
        if taken_now:
            slot, wait = self._take(self.slots, job_id, self.clock() + lease_seconds)
            if slot is None:
                raise AtCapacity("all in-flight slots are taken", retry_after=min(wait, 60.0))
        token, wait = self._take(self.tokens, job_id, self.clock() + self.window)
        if token is None:
            if taken_now:
                self.store.give_back(slot, job_id)
            raise AtCapacity("the submission rate limit is reached", retry_after=wait)
        return slot

    def release(self, job_id: str) -> bool:
        """Free the job's in-flight slot, if it holds one (every end of a job calls this)."""
        freed = False
        for item, lease in self.store.read(self.slots).items():
            if lease.holder == job_id:
                freed = self.store.give_back(item, job_id) or freed
        return freed

    def in_flight(self) -> int:
        now = self.clock()
        return sum(1 for lease in self.store.read(self.slots).values() if lease.holder and lease.until > now)


class MemoryLeaseStore:
    """In-memory LeaseStore for unit tests and simulations."""

    def __init__(self) -> None:
        self.items: dict[str, Lease] = {}

    def read(self, items: list[str]) -> dict[str, Lease]:
        return {i: self.items[i] for i in items if i in self.items}

    def try_take(self, item: str, holder: str, until: float, now: float) -> bool:
        lease = self.items.get(item)
        if lease and lease.holder and lease.until > now:
            return False
        self.items[item] = Lease(item, holder, until)
        return True

    def give_back(self, item: str, holder: str) -> bool:
        lease = self.items.get(item)
        if not lease or lease.holder != holder:
            return False
        self.items[item] = Lease(item, None, 0.0)
        return True
