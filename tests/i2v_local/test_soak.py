"""How the burst run judges first in, first out (infra/i2v_local/soak.py)."""

from __future__ import annotations

from i2v_local.soak import fifo_violations


def row(job_id: str, uploaded: str, parked: str, submitted: str) -> dict:
    day = "2026-01-01T00:00:"
    return {"job_id": job_id, "uploaded_at": day + uploaded, "parked_at": day + parked, "submitted_at": day + submitted}


def test_a_later_upload_started_while_an_earlier_one_waited_is_a_violation():
    rows = [row("a", "00.000Z", "00.100Z", "09.000Z"), row("b", "00.001Z", "00.100Z", "05.000Z")]
    assert fifo_violations(rows) == [("a", "b")]


def test_an_event_delivered_late_parks_its_job_late_and_is_no_violation():
    rows = [row("a", "00.000Z", "06.000Z", "09.000Z"), row("b", "00.001Z", "00.100Z", "05.000Z")]
    assert fifo_violations(rows) == []


def test_neighbours_started_by_two_dispatchers_at_once_are_no_violation():
    rows = [row("a", "00.000Z", "00.100Z", "05.400Z"), row("b", "00.001Z", "00.100Z", "05.000Z")]
    assert fifo_violations(rows) == []
