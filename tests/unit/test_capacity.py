"""Backpressure: in-flight slots and rate tokens as leases (i2v.capacity), on a fake clock."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from i2v.capacity import Capacity, MemoryLeaseStore
from i2v.errors import AtCapacity

LEASE = 600.0


@pytest.fixture
def make(clock):
    def build(max_in_flight=2, per_window=20, window=60.0, store=None):
        return Capacity(
            store or MemoryLeaseStore(), max_in_flight, per_window, window, clock=clock, rng=random.Random(1)
        )

    return build


def test_jobs_take_slots_until_none_is_left(make):
    cap = make(max_in_flight=2)
    assert cap.acquire("j1", LEASE) != cap.acquire("j2", LEASE)
    with pytest.raises(AtCapacity) as info:
        cap.acquire("j3", LEASE)
    assert 0 < info.value.retry_after <= 60
    assert "slots" in info.value.reason
    assert cap.in_flight() == 2
    assert cap.holding("j3") is None


def test_retry_after_is_when_the_first_slot_lease_ends(make, clock):
    cap = make(max_in_flight=1)
    cap.acquire("j1", 30.0)
    clock.advance(10)
    with pytest.raises(AtCapacity) as info:
        cap.acquire("j2", 30.0)
    assert info.value.retry_after == pytest.approx(20.0)


def test_release_frees_the_slot(make):
    cap = make(max_in_flight=1)
    cap.acquire("j1", LEASE)
    assert cap.release("j1") is True
    assert cap.in_flight() == 0
    assert cap.acquire("j2", LEASE)
    assert cap.holding("j2") is not None


def test_release_of_a_job_without_a_slot_does_nothing(make):
    cap = make(max_in_flight=1)
    cap.acquire("j1", LEASE)
    assert cap.release("other") is False
    assert cap.in_flight() == 1


def test_expired_leases_are_reused(make, clock):
    cap = make(max_in_flight=1)
    cap.acquire("crashed", 100.0)
    clock.advance(100.5)
    assert cap.in_flight() == 0
    cap.acquire("j2", LEASE)
    assert cap.holding("j2") is not None
    assert cap.holding("crashed") is None


def test_acquire_is_idempotent_for_the_same_job(make):
    cap = make(max_in_flight=2)
    first = cap.acquire("j1", LEASE)
    assert cap.acquire("j1", LEASE) == first
    assert cap.in_flight() == 1
    cap.acquire("j2", LEASE)  # the second slot is still free for another job


def test_a_repeated_acquire_at_the_rate_limit_keeps_the_slot_the_job_already_held(make):
    cap = make(max_in_flight=2, per_window=1)
    slot = cap.acquire("j1", LEASE)
    with pytest.raises(AtCapacity):
        cap.acquire("j1", LEASE)  # e.g. a redelivered event for a job already submitted
    assert cap.holding("j1") == slot
    assert cap.in_flight() == 1


# --- rate tokens --------------------------------------------------------------------------------


def test_rate_tokens_limit_submissions_per_window(make, clock):
    cap = make(max_in_flight=10, per_window=3, window=60.0)
    for job in ("j1", "j2", "j3"):
        cap.acquire(job, LEASE)
    clock.advance(10)
    with pytest.raises(AtCapacity) as info:
        cap.acquire("j4", LEASE)
    assert "rate" in info.value.reason
    assert info.value.retry_after == pytest.approx(50.0)
    assert cap.holding("j4") is None  # its slot went back: it holds nothing while it waits
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
    assert cap.holding("j4") is not None


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


@pytest.mark.parametrize("max_in_flight, per_window", [(0, 1), (1, 0)])
def test_limits_must_be_at_least_one(max_in_flight, per_window, clock):
    with pytest.raises(ValueError):
        Capacity(MemoryLeaseStore(), max_in_flight, per_window, 60.0, clock=clock)


# --- never more than the cap --------------------------------------------------------------------

operation = st.one_of(
    st.tuples(st.just("acquire"), st.integers(0, 7)),
    st.tuples(st.just("release"), st.integers(0, 7)),
    st.tuples(st.just("advance"), st.floats(0.0, 120.0)),
)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.lists(operation, max_size=60))
def test_never_more_than_max_in_flight_holders(max_in_flight, per_window, ops):
    from types import SimpleNamespace

    now = SimpleNamespace(t=0.0)
    cap = Capacity(
        MemoryLeaseStore(), max_in_flight, per_window, 60.0, clock=lambda: now.t, rng=random.Random(0)
    )
    for op, arg in ops:
        if op == "acquire":
            try:
                slot = cap.acquire(f"job{arg}", 90.0)
                assert cap.holding(f"job{arg}") == slot
            except AtCapacity as exc:
                assert exc.retry_after >= 1.0
        elif op == "release":
            cap.release(f"job{arg}")
        else:
            now.t += arg
        live = [lease for lease in cap.store.read(cap.slots).values() if lease.holder and lease.until > now.t]
        assert len(live) <= max_in_flight
        assert len({lease.holder for lease in live}) == len(live)  # one slot per job
        tokens = [
            lease for lease in cap.store.read(cap.tokens).values() if lease.holder and lease.until > now.t
        ]
        assert len(tokens) <= per_window
