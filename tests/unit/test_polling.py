"""How long to wait before asking the provider again (i2v.polling)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from i2v.polling import DEFAULT_POLICY, GENERATION_PRIOR, PollingPolicy, scaled
from i2v.provider.models import STATUS_PROCESSING, STATUS_QUEUED, STATUS_UNKNOWN

POLICY = DEFAULT_POLICY
WIDE = PollingPolicy(max_wait=600.0)  # lets the first-poll rule show without the max_wait clamp


def test_first_poll_is_near_90_percent_of_the_modes_lower_bound():
    assert POLICY.first_wait("Standard") == pytest.approx(0.9 * GENERATION_PRIOR["Standard"][0])
    assert WIDE.first_wait("Professional") == pytest.approx(0.9 * GENERATION_PRIOR["Professional"][0])


def test_first_poll_waits_for_the_earliest_usual_completion_even_past_max_wait():
    # Professional videos take 300 s at least: polling every max_wait before that only costs polls.
    assert POLICY.first_wait("Professional") == pytest.approx(270)


def test_unknown_mode_falls_back_to_standard_timings():
    assert POLICY.first_wait("Turbo") == POLICY.first_wait("Standard")
    assert POLICY.next_wait("Turbo", STATUS_PROCESSING, 100) == POLICY.next_wait(
        "Standard", STATUS_PROCESSING, 100
    )


# --- hints --------------------------------------------------------------------------------------


def test_an_eta_is_trusted_at_85_percent():
    assert POLICY.next_wait("Standard", STATUS_PROCESSING, 30, eta=40) == pytest.approx(34)


def test_a_short_eta_is_waited_out_exactly():
    assert POLICY.next_wait("Standard", STATUS_PROCESSING, 30, eta=7) == 7


def test_eta_wins_over_progress():
    assert POLICY.next_wait("Standard", STATUS_PROCESSING, 60, eta=10, progress=10) == 10


def test_progress_gives_the_remaining_time():
    # half way after 60 s: about 60 s left, trusted at 85 %
    assert POLICY.next_wait("Standard", STATUS_PROCESSING, 60, progress=50) == pytest.approx(51)


def test_nearly_done_by_progress_polls_soon():
    assert POLICY.next_wait("Standard", STATUS_PROCESSING, 90, progress=95) == pytest.approx(90 * 5 / 95)


@pytest.mark.parametrize("eta, progress", [(0, None), (None, 0), (None, 100), (-5, None), (None, None)])
def test_unusable_hints_are_ignored(eta, progress):
    assert (
        POLICY.next_wait("Standard", STATUS_PROCESSING, 100, eta=eta, progress=progress) == POLICY.blind_step
    )


def test_progress_without_elapsed_time_is_ignored():
    assert POLICY.remaining_hint(0, None, 50) is None


# --- clamping -----------------------------------------------------------------------------------


def test_waits_never_go_below_min_wait():
    assert POLICY.next_wait("Standard", STATUS_PROCESSING, 100, eta=0.5) == POLICY.min_wait


def test_waits_never_go_above_max_wait():
    assert POLICY.next_wait("Standard", STATUS_PROCESSING, 10, eta=3600) == POLICY.max_wait
    assert POLICY.next_wait("Professional", STATUS_QUEUED, 0) == pytest.approx(270)


@given(
    st.sampled_from(["Standard", "Professional", "Other"]),
    st.sampled_from([STATUS_QUEUED, STATUS_PROCESSING, STATUS_UNKNOWN]),
    st.floats(-100, 1e6, allow_nan=False),
    st.one_of(st.none(), st.floats(-10, 1e7, allow_nan=False)),
    st.one_of(st.none(), st.floats(-10, 200, allow_nan=False)),
)
def test_every_wait_is_within_bounds(mode, status, elapsed, eta, progress):
    wait = POLICY.next_wait(mode, status, elapsed, eta, progress)
    # hint-driven waits stay under max_wait; only the wait for the usual earliest completion is longer
    assert POLICY.min_wait <= wait <= max(POLICY.max_wait, POLICY.first_wait(mode))


# --- without hints ------------------------------------------------------------------------------


def test_before_the_usual_window_wait_until_it_opens():
    assert POLICY.next_wait("Standard", STATUS_PROCESSING, 20) == pytest.approx(54 - 20)


def test_inside_the_usual_window_take_blind_steps():
    assert POLICY.next_wait("Standard", STATUS_PROCESSING, 100) == POLICY.blind_step


def test_past_the_usual_window_take_longer_steps():
    assert POLICY.next_wait("Standard", STATUS_PROCESSING, 200) == POLICY.late_step


def test_a_queued_task_late_in_the_window_is_polled_at_the_blind_step():
    assert POLICY.next_wait("Standard", STATUS_QUEUED, 500) == POLICY.blind_step


def test_professional_uses_its_own_window():
    wide = WIDE
    assert wide.next_wait("Professional", STATUS_PROCESSING, 100) == pytest.approx(270 - 100)
    assert wide.next_wait("Professional", STATUS_PROCESSING, 300) == wide.blind_step
    assert wide.next_wait("Professional", STATUS_PROCESSING, 500) == wide.late_step


# --- scaled -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds, scale, whole",
    [
        (54, 1, 54),
        (54.4, 1, 54),
        (54.6, 1, 55),
        (54, 10, 5),
        (56, 10, 6),
        (60, 60, 1),
        (0.2, 1, 1),
        (0, 1, 1),
        (10, 1000, 1),
    ],
)
def test_scaled_rounds_to_whole_seconds_and_never_below_one(seconds, scale, whole):
    assert scaled(seconds, scale) == whole
    assert isinstance(scaled(seconds, scale), int)
