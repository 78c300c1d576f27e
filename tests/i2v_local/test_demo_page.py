"""The demo page (i2v_local/demo_page.py): the input, the video, the notification; simulated runs say so."""

from __future__ import annotations

from i2v_local.demo_page import write_page
from i2v_local.runner import JobView


def view(tmp_path) -> JobView:
    (tmp_path / "a.mp4").write_bytes(b"\0")
    return JobView("uploads/a.png", phase="done", notification={"status": "SUCCEEDED"}, video_path=tmp_path / "a.mp4")


def test_a_simulated_run_says_so_on_the_page(tmp_path):
    page = write_page(tmp_path, [view(tmp_path)], {}).read_text()
    assert "Simulated preview." in page and "video (simulated preview)" in page
    assert '<video src="a.mp4"' in page


def test_a_run_against_a_real_provider_does_not(tmp_path):
    page = write_page(tmp_path, [view(tmp_path)], {}, simulated=False).read_text()
    assert "simulated" not in page.lower()
