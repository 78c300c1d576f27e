"""Backpressure: in-flight slots and rate tokens as leases (i2v.capacity), on a fake clock."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from i2v.capacity import Capacity, Lease, Snapshot
from i2v.errors import AtCapacity
from i2v_local.memory import MeteredLeaseStore as MemoryLeaseStore

LEASE = 600.0


@pytest.fixture
def make(clock):
    def build(max_in_flight=2, per_window=20, window=60.0, store=None):
        return Capacity(store or MemoryLeaseStore(), max_in_flight, per_window, window, clock=clock,
                        rng=random.Random(1))

    return build


def holding(cap: Capacity, job_id: str) -> str | None:
    """The slot whose live lease ``job_id`` holds, as the control table shows it."""
    now = cap.clock()
    return next((s for s, lease in cap.store.read(cap.slots).items() if lease.holder == job_id and lease.live(now)),
                None)


def tokens_held(cap: Capacity) -> int:
    now = cap.clock()
    return sum(1 for lease in cap.store.read(cap.tokens).values() if lease.live(now))


# --- slots ---------------------------------------------------------------------------------------


def test_jobs_take_slots_until_none_is_left(make):
    cap = make(max_in_flight=2)
    assert cap.acquire("j1", LEASE) != cap.acquire("j2", LEASE)
    with pytest.raises(AtCapacity) as info:
        cap.acquire("j3", LEASE)
    assert 0 < info.value.retry_after <= 60
    assert "slots" in info.value.reason and info.value.rate_limited is False
    assert cap.in_flight() == 2
    assert holding(cap, "j3") is None


def test_retry_after_is_when_the_first_slot_lease_ends(make, clock):
    cap = make(max_in_flight=1)
    cap.acquire("j1", 30.0)
    clock.advance(10)
    with pytest.raises(AtCapacity) as info:
        cap.acquire("j2", 30.0)
    assert info.value.retry_after == pytest.approx(20.0)


def test_retry_after_for_a_long_lease_is_capped_at_a_minute(make):
    cap = make(max_in_flight=1)
    cap.acquire("j1", 3600.0)
    with pytest.raises(AtCapacity) as info:
        cap.acquire("j2", LEASE)
    assert info.value.retry_after == 60.0


def test_release_frees_the_slot(make):
    cap = make(max_in_flight=1)
    cap.acquire("j1", LEASE)
    assert cap.release("j1") is True
    assert cap.in_flight() == 0
    assert cap.acquire("j2", LEASE) == holding(cap, "j2")


def test_release_of_a_job_without_a_slot_does_nothing(make):
    cap = make(max_in_flight=1)
    cap.acquire("j1", LEASE)
    assert cap.release("other") is False
    assert cap.release("j1") is True
    assert cap.release("j1") is False  # a second release (a retried store step) frees nothing more
    assert cap.in_flight() == 0


def test_give_back_returns_one_slot_only_to_its_holder(make):
    cap = make(max_in_flight=2)
    slot = cap.acquire("j1", LEASE)
    assert cap.give_back(slot, "j2") is False
    assert holding(cap, "j1") == slot
    assert cap.give_back(slot, "j1") is True
    assert holding(cap, "j1") is None and cap.in_flight() == 0


def test_expired_leases_are_reused(make, clock):
    cap = make(max_in_flight=1)
    cap.acquire("crashed", 100.0)
    clock.advance(100.5)
    assert cap.in_flight() == 0
    cap.acquire("j2", LEASE)
    assert holding(cap, "j2") is not None
    assert holding(cap, "crashed") is None


def test_acquire_is_idempotent_for_the_same_job(make):
    cap = make(max_in_flight=2)
    first = cap.acquire("j1", LEASE)
    assert cap.acquire("j1", LEASE) == first
    assert cap.in_flight() == 1
    cap.acquire("j2", LEASE)  # the second slot is still free for another job


def test_a_repeated_acquire_at_the_rate_limit_keeps_the_slot_the_job_already_held(make):
    cap = make(max_in_flight=2, per_window=1)
    slot = cap.acquire("j1", LEASE)
    with pytest.raises(AtCapacity) as info:
        cap.acquire("j1", LEASE)  # e.g. a second submission attempt after a provider's 429
    assert info.value.rate_limited is True
    assert holding(cap, "j1") == slot
    assert cap.in_flight() == 1


@pytest.mark.parametrize("max_in_flight, per_window", [(0, 1), (1, 0)])
def test_limits_must_be_at_least_one(max_in_flight, per_window, clock):
    with pytest.raises(ValueError):
        Capacity(MemoryLeaseStore(), max_in_flight, per_window, 60.0, clock=clock)


# --- rate tokens --------------------------------------------------------------------------------


def test_rate_tokens_limit_submissions_per_window(make, clock):
    cap = make(max_in_flight=10, per_window=3, window=60.0)
    for job in ("j1", "j2", "j3"):
        cap.acquire(job, LEASE)
    clock.advance(10)
    with pytest.raises(AtCapacity) as info:
        cap.acquire("j4", LEASE)
    assert "rate" in info.value.reason and info.value.rate_limited is True
    assert info.value.retry_after == pytest.approx(50.0)
    assert holding(cap, "j4") is None  # its slot went back: it holds nothing while it waits
    assert cap.in_flight() == 3


def test_rate_tokens_free_up_after_the_window(make, clock):
    cap = make(max_in_flight=10, per_window=3, window=60.0)
    for job in ("j1", "j2", "j3"):
        cap.acquire(job, LEASE)
    for job in ("j1", "j2", "j3"):
        cap.release(job)  # finishing a job frees its slot, not its rate token
    with pytest.raises(AtCapacity):
        cap.acquire("j4", LEASE)
    clock.advance(60.0)
    cap.acquire("j4", LEASE)
    assert holding(cap, "j4") is not None


def test_a_scaled_window_is_honoured(make, clock):
    cap = make(max_in_flight=10, per_window=1, window=6.0)
    cap.acquire("j1", LEASE)
    with pytest.raises(AtCapacity) as info:
        cap.acquire("j2", LEASE)
    assert info.value.retry_after == pytest.approx(6.0)
    clock.advance(6.0)
    cap.acquire("j2", LEASE)


def test_retry_after_is_at_least_one_second(make, clock):
    cap = make(max_in_flight=10, per_window=1, window=60.0)
    cap.acquire("j1", LEASE)
    clock.advance(59.9)
    with pytest.raises(AtCapacity) as info:
        cap.acquire("j2", LEASE)
    assert info.value.retry_after == 1.0


# --- snapshot: what a dispatcher checks before it looks at the backlog -----------------------------


def test_an_empty_table_is_all_free(make):
    assert make(max_in_flight=3, per_window=5).snapshot() == Snapshot(free_slots=3, free_tokens=5,
                                                                      next_token_at=None)


def test_snapshot_counts_free_slots_and_tokens(make):
    cap = make(max_in_flight=3, per_window=5)
    cap.acquire("j1", LEASE)
    cap.acquire("j2", LEASE)
    cap.release("j1")
    snap = cap.snapshot()
    assert (snap.free_slots, snap.free_tokens, snap.next_token_at) == (2, 3, None)
    assert snap.can_start == 2


def test_snapshot_says_when_the_next_rate_token_frees(make, clock):
    cap = make(max_in_flight=5, per_window=2, window=60.0)
    start = clock()
    cap.acquire("j1", LEASE)
    clock.advance(15)
    cap.acquire("j2", LEASE)
    snap = cap.snapshot()
    assert (snap.free_slots, snap.free_tokens, snap.can_start) == (3, 0, 0)
    assert snap.next_token_at == start + 60.0
    clock.advance(45)
    assert cap.snapshot().free_tokens == 1 and cap.snapshot().next_token_at is None


def test_snapshot_with_full_slots_and_free_tokens_can_start_nothing(make):
    cap = make(max_in_flight=1, per_window=5)
    cap.acquire("j1", LEASE)
    assert cap.snapshot().can_start == 0


# --- one read of the control table per question ----------------------------------------------------


def test_each_question_reads_the_control_table_once(make, fakes):
    store = fakes.LeaseStore()
    cap = make(max_in_flight=10, per_window=20, store=store)
    cap.snapshot()
    assert store.meter.counts == {"dynamodb.BatchGetItem": 1}
    store.meter.counts.clear()
    cap.acquire("j1", LEASE)
    assert store.meter.counts == {"dynamodb.BatchGetItem": 1, "dynamodb.UpdateItem": 2}  # one slot, one token
    store.meter.counts.clear()
    cap.release("j1")
    assert store.meter.counts == {"dynamodb.BatchGetItem": 1, "dynamodb.UpdateItem": 1}


def test_a_slot_taken_by_another_dispatcher_between_read_and_write_is_not_taken_twice(clock):
    class Racing(MemoryLeaseStore):
        """Another dispatcher takes every item this one read as free, just before this one writes."""

        def try_take(self, item, holder, until, now):
            if item.startswith("slot#") and item not in self.items:
                super().try_take(item, "other", until, now)
            return super().try_take(item, holder, until, now)

    store = Racing()
    cap = Capacity(store, 2, 20, 60.0, clock=clock, rng=random.Random(0))
    with pytest.raises(AtCapacity):
        cap.acquire("j1", LEASE)
    assert {lease.holder for lease in store.read(cap.slots).values()} == {"other"}
    assert tokens_held(cap) == 0  # no slot, so no token spent


# --- never more than the cap --------------------------------------------------------------------

operation = st.one_of(
    st.tuples(st.just("acquire"), st.integers(0, 7)),
    st.tuples(st.just("release"), st.integers(0, 7)),
    st.tuples(st.just("advance"), st.floats(0.0, 120.0)),
)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.lists(operation, max_size=60), st.integers(1, 3))
def test_never_more_than_max_in_flight_holders(max_in_flight, per_window, ops, dispatchers):
    now = SimpleNamespace(t=0.0)
    store = MemoryLeaseStore()
    caps = [Capacity(store, max_in_flight, per_window, 60.0, clock=lambda: now.t, rng=random.Random(i))
            for i in range(dispatchers)]
    for n, (op, arg) in enumerate(ops):
        cap = caps[n % dispatchers]  # several dispatchers share one control table
        if op == "acquire":
            try:
                slot = cap.acquire(f"job{arg}", 90.0)
                assert holding(cap, f"job{arg}") == slot
            except AtCapacity as exc:
                assert exc.retry_after >= 1.0
        elif op == "release":
            cap.release(f"job{arg}")
        else:
            now.t += arg
        live = [lease for lease in store.read(cap.slots).values() if lease.live(now.t)]
        assert len(live) <= max_in_flight
        assert len({lease.holder for lease in live}) == len(live)  # one slot per job
        assert tokens_held(cap) <= per_window
        snap = cap.snapshot()
        assert snap.free_slots == max_in_flight - len(live)
        assert 0 <= snap.can_start <= min(max_in_flight, per_window)


def test_a_lease_is_live_only_with_a_holder_and_time_left():
    assert Lease("slot#0", "j1", 10.0).live(9.9)
    assert not Lease("slot#0", "j1", 10.0).live(10.0)
    assert not Lease("slot#0", None, 99.0).live(0.0)
