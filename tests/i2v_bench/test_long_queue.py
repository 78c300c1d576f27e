"""The long-queue section: a short and a long queue through the local pipeline (smaller than `make bench`'s
8 and 64), measured the way the section measures them, and reported."""

from __future__ import annotations

import pytest

from i2v_bench import long_queue, report


def test_in_order_share_counts_consecutive_starts_in_upload_order():
    assert long_queue.in_order_share([0, 1, 2, 3]) == 1.0
    assert long_queue.in_order_share([1, 0, 2, 3]) == pytest.approx(2 / 3, abs=1e-4)
    assert long_queue.in_order_share([0]) == 1.0


@pytest.mark.e2e
def test_a_short_and_a_long_local_queue_are_measured_and_reported():
    result = long_queue.run(sizes=(2, 6), progress=lambda _line: None)
    for run in result["runs"]:
        assert run["started"] == run["uploads"] == run["provider_tasks_created"]
        assert run["peak_in_flight"] <= long_queue.MAX_IN_FLIGHT
        assert run["fifo_violations"] == 0 and run["in_order_fraction"] == 1.0
        by_service = run["requests_per_upload_by_service"]
        assert by_service["stepfunctions"] == 1.0 and by_service["sns"] == 1.0  # one workflow, one notification
        assert run["requests_per_upload"] > run["without_event_source_receives"] > 0
    assert 0.5 < result["ratio"] < 2.0
    assert "### Long queue" in report.markdown({"long_queue": result}, {})
    assert "LONG QUEUE" in report.console({"long_queue": result})
    (goal,) = report.long_queue_goals({"long_queue": result})
    assert goal["met"], goal
