"""The backlog benchmark's simulation keeps the rules it measures: a smoke run of both designs at 50 uploads
and of a 200-row batch file (the invariants, not the benchmark's figures), and the fast in-memory backlog
answers as a sorted scan would."""

from __future__ import annotations

import json
import random

import pytest

from i2v import constants as c
from i2v.backlog import LANES
from i2v.contracts.status import Priority
from i2v_bench import backlog
from i2v_local.memory import MemoryBacklog, MemoryJobs, Meter

UPLOADS = 50


@pytest.fixture(scope="module")
def runs() -> dict[str, backlog.Simulation]:
    jobs = backlog.population(UPLOADS)
    return {design: backlog.simulate(design, jobs)[0] for design in backlog.DESIGNS}


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    level = peak = 0
    for _t, step in events:  # an end sorts before a start at the same instant
        level += step
        peak = max(peak, level)
    return peak


@pytest.mark.parametrize("design", backlog.DESIGNS)
def test_every_upload_starts_exactly_once(runs, design):
    sim = runs[design]
    assert sorted(sim.start_order) == list(range(UPLOADS))  # the provider fake refuses a second submission
    assert len(sim.provider.by_key) == UPLOADS and sim.ended == UPLOADS


@pytest.mark.parametrize("design", backlog.DESIGNS)
def test_never_more_than_the_cap_in_flight(runs, design):
    sim = runs[design]
    held = [(sim.starts[j.index], sim.starts[j.index] + j.hold_s) for j in sim.jobs]  # slot held at least this long
    at_provider = [(sim.starts[j.index], sim.starts[j.index] + j.provider_s) for j in sim.jobs]
    assert _most_at_once(held) <= backlog.MAX_IN_FLIGHT
    assert _most_at_once(at_provider) == backlog.MAX_IN_FLIGHT  # and the cap is used
    assert sim.capacity.in_flight() == 0  # every slot given back


def test_parked_uploads_start_in_upload_order(runs):
    assert runs["parked"].start_order == list(range(UPLOADS))


def test_today_s_design_makes_more_requests_per_video_than_the_parked_backlog(runs):
    def per_video(sim: backlog.Simulation) -> float:
        return sum(backlog.by_service(sim.requests()).values()) / UPLOADS

    assert per_video(runs["defer"]) > 2 * per_video(runs["parked"])
    assert runs["defer"].deliveries["deferred"] > 0  # waiting uploads came back to the queue


BATCH_ROWS = 200


@pytest.fixture(scope="module")
def batch_run() -> backlog.Simulation:
    return backlog.simulate(backlog.BATCH_DESIGN, backlog.batch_rows_of(backlog.population(BATCH_ROWS)))[0]


def test_a_batch_file_starts_every_row_once_and_sends_one_summary(batch_run):
    sim = batch_run
    assert sorted(sim.start_order) == list(range(BATCH_ROWS))  # the provider fake refuses a second submission
    assert sim.ended == BATCH_ROWS and sim.capacity.in_flight() == 0
    rows = [item["batch"]["row"] for item in sim.jobs_table.items.values() if item.get("batch")]
    assert sorted(rows) == list(range(1, BATCH_ROWS + 1))  # one job per row, through take_batch and take_rows
    (when, summary), = sim.summaries
    assert summary["schema"] == "i2v.batch/v1"
    assert summary["counts"] == {"total": BATCH_ROWS, "succeeded": BATCH_ROWS, "failed": 0}
    assert when == max(sim.starts[j.index] + j.hold_s for j in sim.jobs)  # when the last row ended
    assert sim.meters["sqs"].counts["sqs.SendMessage"] >= BATCH_ROWS // c.BATCH_CHUNK_ROWS  # the rows went back on the queue


def test_a_batch_file_s_rows_start_in_row_order(batch_run):
    assert batch_run.start_order == list(range(BATCH_ROWS))


def test_the_section_reports_both_designs_and_models_the_baseline_beyond_its_real_runs():
    result = backlog.run(sizes=(30, 60), real_defer_max=30, progress=lambda _line: None, batch_rows=40)
    rows = {(r["design"], r["uploads"]): r for r in result["rows"]}
    assert set(rows) == {("defer", 30), ("parked", 30), ("parked-batch", 40), ("defer", 60), ("parked", 60)}
    assert rows[("parked-batch", 40)]["batch"]["summaries"] == 1
    assert rows[("defer", 60)]["modelled"] and not rows[("parked", 60)]["modelled"]
    for row in rows.values():
        for field in ("requests_per_video", "usd_per_video", "wait_p50_s", "wait_p95_s", "wait_max_s",
                      "ideal_drain_s"):
            assert row[field] > 0, (row["design"], row["uploads"], field)
        assert row["wait_p50_s"] <= row["wait_p95_s"] <= row["wait_max_s"]


def _sorted_head(jobs: MemoryJobs, limit: int) -> list[tuple[str, str, str, str | None]]:
    """What MemoryBacklog.head answered before it kept per-lane indexes: sort every listed item."""
    out = []
    for lane in LANES:
        items = sorted((i for i in jobs.items.values()
                        if i.get("backlog_lane") == lane.value and "backlog_order" in i),
                       key=lambda i: str(i["backlog_order"]))
        out += [(i["job_id"], lane.value, i["backlog_order"], i.get("status")) for i in items[:limit]]
    return out


@pytest.mark.parametrize("seed", range(40))
def test_the_indexed_backlog_answers_like_a_sorted_scan(seed):
    rng = random.Random(seed)
    meter = Meter()
    jobs = MemoryJobs(meter)
    queue = MemoryBacklog(jobs)
    for _step in range(250):
        roll = rng.random()
        job_id = f"j{rng.randrange(40)}"
        if roll < 0.35:
            if job_id not in jobs.items:
                jobs.create(job_id)
            order = f"{rng.randrange(30):03d}#{job_id if rng.random() < 0.8 else 'tie'}"
            queue.park(job_id, rng.choice(list(Priority)), order, {"uploaded_at": order[:3]})
        elif roll < 0.55 and job_id in jobs.items:
            queue.leave(job_id)
        elif roll < 0.65 and job_id in jobs.items:
            queue.claim(job_id, until=10.0, now=rng.random() * 20)
        elif roll < 0.7 and job_id in jobs.items:
            queue.unclaim(job_id)
        elif roll < 0.75 and job_id in jobs.items:
            jobs.update(job_id, status="RECEIVED")  # parkable again
        elif roll < 0.8 and job_id in jobs.items:
            jobs.update(job_id, backlog_lane=rng.choice(list(Priority)).value,
                        backlog_order=f"{rng.randrange(30):03d}#{job_id}")
        else:
            limit = rng.randrange(1, 15)
            before = meter.counts["dynamodb.Query"]
            answer = [(w.job_id, w.lane.value, w.order, w.status.value) for w in queue.head(limit)]
            assert answer == _sorted_head(jobs, limit)
            assert meter.counts["dynamodb.Query"] - before == len(LANES)  # one query per lane, as before


def test_make_bench_quick_only_backlog_writes_its_results_plot_and_text(tmp_path, capsys):
    from i2v_bench.__main__ import main

    assert main(["--quick", "--only", "backlog", "--out", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "results.json").read_text())
    assert {(r["design"], r["uploads"], r["modelled"]) for r in written["backlog"]} == {
        ("defer", 100, False), ("parked", 100, False), ("defer", 1000, True), ("parked", 1000, False),
        ("parked-batch", 1000, False)}
    assert all(not k.startswith("_") for r in written["backlog"] for k in r)
    assert (tmp_path / "backlog.png").stat().st_size > 10_000
    text = (tmp_path / "README-performance.md").read_text()
    assert "### Backlog" in text and "*modelled*" in text and "**parked-batch**" in text
    assert "BACKLOG" in capsys.readouterr().out
