"""Capacity: at most N tasks in flight at the provider and M submissions per rate window.

Both limits are sets of leased items in a control table, each taken with a conditional write, so
concurrent dispatchers can never exceed them and a crashed holder frees its lease when it expires.
One read of all items answers both questions; the store keeps the items, this module decides.
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

    def live(self, now: float) -> bool:
        return self.holder is not None and self.until > now


class LeaseStore(Protocol):
    def read(self, items: list[str]) -> dict[str, Lease]: ...

    def try_take(self, item: str, holder: str, until: float, now: float) -> bool:
        """Take the item if it is free (no holder, or its lease ended before ``now``)."""
        ...

    def give_back(self, item: str, holder: str) -> bool:
        """Free the item if ``holder`` holds it."""
        ...


@dataclass(frozen=True)
class Snapshot:
    """Free capacity at one moment: what a dispatcher checks before it looks at the backlog."""

    free_slots: int
    free_tokens: int
    next_token_at: float | None  # when the soonest taken rate token frees (None: some are free)
    holders: frozenset[str] = frozenset()  # jobs holding a live in-flight slot

    @property
    def can_start(self) -> int:
        return min(self.free_slots, self.free_tokens)


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

    def _free(self, items: list[str], leases: dict[str, Lease], now: float) -> list[str]:
        free = [i for i in items if i not in leases or not leases[i].live(now)]
        self.rng.shuffle(free)  # concurrent takers spread out instead of racing for the same item
        return free

    def snapshot(self) -> Snapshot:
        now = self.clock()
        leases = self.store.read(self.slots + self.tokens)
        tokens = self._free(self.tokens, leases, now)
        soonest = min((leases[t].until for t in self.tokens if t in leases and leases[t].live(now)), default=None)
        holders = frozenset(str(leases[s].holder) for s in self.slots if s in leases and leases[s].live(now))
        return Snapshot(free_slots=len(self._free(self.slots, leases, now)), free_tokens=len(tokens),
                        next_token_at=None if tokens else soonest, holders=holders)

    def acquire(self, job_id: str, lease_seconds: float) -> str:
        """Take an in-flight slot (or find the one ``job_id`` holds) and a rate token; raise AtCapacity when full."""
        now = self.clock()
        leases = self.store.read(self.slots + self.tokens)
        slot = next((s for s in self.slots if s in leases and leases[s].holder == job_id and leases[s].live(now)),
                    None)
        taken_now = slot is None
        if slot is None:
            slot = next((s for s in self._free(self.slots, leases, now)
                         if self.store.try_take(s, job_id, now + lease_seconds, now)), None)
            if slot is None:
                soonest = min((lease.until for s, lease in leases.items() if s in self.slots), default=now + 60)
                raise AtCapacity("all in-flight slots are taken", retry_after=max(1.0, min(60.0, soonest - now)))
        token = next((t for t in self._free(self.tokens, leases, now)
                      if self.store.try_take(t, job_id, now + self.window, now)), None)
        if token is None:
            if taken_now:
                self.store.give_back(slot, job_id)
            soonest = min((lease.until for t, lease in leases.items() if t in self.tokens and lease.live(now)),
                          default=now + 1)
            raise AtCapacity("the submission rate limit is reached", retry_after=max(1.0, soonest - now),
                             rate_limited=True)
        return slot

    def give_back(self, slot: str, job_id: str) -> bool:
        return self.store.give_back(slot, job_id)

    def release(self, job_id: str) -> bool:
        """Free the job's in-flight slot, if it holds one (every end of a job calls this)."""
        freed = False
        for item, lease in self.store.read(self.slots).items():
            if lease.holder == job_id:
                freed = self.store.give_back(item, job_id) or freed
        return freed

    def in_flight(self) -> int:
        now = self.clock()
        return sum(1 for lease in self.store.read(self.slots).values() if lease.live(now))
