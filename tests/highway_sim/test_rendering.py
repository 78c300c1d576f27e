import threading
import time

import pytest

from highway_sim.rendering import RenderPool
from highway_sim.video import RenderCancelled


def collector():
    results, done = [], threading.Event()

    def record(task_id, video, error):
        results.append((task_id, video, error))
        done.set()

    return results, done, record


def test_runs_jobs_and_reports_bytes():
    pool = RenderPool(2)
    pool.start()
    results, done, record = collector()
    pool.submit("a", lambda cancel: b"video", record)
    assert done.wait(5)
    pool.stop()
    assert results == [("a", b"video", None)]


def test_job_errors_become_an_error_text():
    pool = RenderPool(1)
    pool.start()
    results, done, record = collector()

    def broken(cancel):
        raise ValueError("bad frame")

    pool.submit("a", broken, record)
    assert done.wait(5)
    pool.stop()
    assert results == [("a", None, "ValueError: bad frame")]


def test_stop_cancels_running_jobs_and_joins_workers():
    pool = RenderPool(2)
    pool.start()
    results, _done, record = collector()
    started = threading.Event()

    def slow(cancel):
        started.set()
        while True:
            if cancel.wait(0.01):
                raise RenderCancelled()

    for name in "abc":
        pool.submit(name, slow, record)
    assert started.wait(5)
    t0 = time.monotonic()
    pool.stop()
    assert time.monotonic() - t0 < 2
    assert results == []
    assert not [t for t in threading.enumerate() if t.name.startswith("highway-sim-render")]


def test_cancel_all_keeps_the_pool_running():
    pool = RenderPool(1)
    pool.start()
    results, done, record = collector()
    gate = threading.Event()

    def waits(cancel):
        gate.set()
        cancel.wait(5)
        raise RenderCancelled()

    pool.submit("old", waits, record)
    assert gate.wait(5)
    pool.cancel_all()
    pool.submit("new", lambda cancel: b"v", record)
    assert done.wait(5)
    pool.stop()
    assert results == [("new", b"v", None)]


def test_submit_needs_a_started_pool():
    with pytest.raises(RuntimeError):
        RenderPool(1).submit("a", lambda c: b"", lambda *a: None)
