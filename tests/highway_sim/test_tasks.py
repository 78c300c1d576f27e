import pytest

from highway_sim.config import SimConfig
from highway_sim.dice import Dice
from highway_sim.tasks import (
    FAILED,
    PROCESSING,
    QUEUED,
    SLOW_FACTOR,
    SUCCEED,
    Task,
    TaskStore,
    new_task,
    result_body,
)

T0, WALL0 = 100.0, 1_700_000_000.0


def make_task(**overrides):
    fields = {"task_id": "t" * 32, "mode": "Standard", "duration": 5, "created_at": T0, "created_wall": WALL0,
              "queue_s": 2.0, "gen_s": 10.0, "speed": 10.0, "ttl": 3600, "seed": 42, "hinted": True,
              "eta_bias": 0.0}
    return Task(**{**fields, **overrides})


def test_status_follows_the_clock_and_waits_for_the_render():
    task = make_task()
    assert task.status(T0) == (QUEUED, "")
    assert task.status(T0 + 1.99)[0] == QUEUED
    assert task.status(T0 + 2.0)[0] == PROCESSING
    assert task.status(T0 + 50)[0] == PROCESSING  # generation over, video not rendered yet
    task.video, task.rendered_at = b"mp4", T0 + 5  # rendered early: generation time still counts
    assert task.status(T0 + 11.9)[0] == PROCESSING
    assert task.status(T0 + 12.0) == (SUCCEED, "")
    assert task.ended_at() == T0 + 12.0


def test_late_render_delays_success():
    task = make_task(rendered_at=T0 + 20, video=b"x")
    assert task.status(T0 + 15)[0] == PROCESSING
    assert task.status(T0 + 20)[0] == SUCCEED


def test_failing_task_fails_during_generation_without_a_video():
    task = make_task(fail_reason="boom", fail_after_s=4.0)
    assert task.status(T0 + 5.9)[0] == PROCESSING
    assert task.status(T0 + 6.0) == (FAILED, "boom")
    assert task.expires_at() is None


def test_render_error_fails_the_task():
    task = make_task(rendered_at=T0 + 1, render_error="ValueError: x")
    status, reason = task.status(T0 + 12)
    assert status == FAILED and reason


def test_video_url_expires_ttl_over_speed_after_success():
    task = make_task(rendered_at=T0, video=b"x")
    assert task.expires_at() == T0 + 12 + 3600 / 10


def test_result_body_shape_through_the_lifecycle():
    task = make_task()
    queued = result_body(task, T0 + 1, "http://sim", show_hints=True)
    assert set(queued) == {"extra", "task", "videos"}
    assert queued["task"] == {"task_id": task.task_id, "task_type": "KLING_V16_I2V_STANDARD",
                              "status": QUEUED, "reason": ""}
    assert queued["videos"] == []
    debug = queued["extra"]["debug_info"]
    assert debug == {"submit_time_ms": str(int(WALL0 * 1000)), "execute_time_ms": "0",
                     "complete_time_ms": "0"}
    assert queued["extra"]["seed"] == "42"

    processing = result_body(task, T0 + 7, "http://sim", show_hints=True)["task"]
    assert processing["status"] == PROCESSING
    assert processing["progress_percent"] == 50
    assert processing["eta"] == 50  # 5 real s left at speed 10 = 50 provider seconds

    task.video, task.rendered_at = b"mp4", T0 + 3
    done = result_body(task, T0 + 13, "http://sim", show_hints=True)
    assert done["task"]["status"] == SUCCEED and "eta" not in done["task"]
    expires = int(WALL0 + 12 + 360)
    assert done["videos"] == [{"video_url": f"http://sim/videos/{task.task_id}.mp4?expires={expires}",
                               "video_url_ttl": "3600", "video_type": "mp4"}]
    debug = done["extra"]["debug_info"]
    assert debug["execute_time_ms"] == str(int((WALL0 + 2) * 1000))
    assert debug["complete_time_ms"] == str(int((WALL0 + 12) * 1000))


def test_hints_are_omitted_when_not_shown_or_task_is_hintless():
    assert "eta" not in result_body(make_task(), T0 + 7, "http://s", show_hints=False)["task"]
    hintless = result_body(make_task(hinted=False), T0 + 7, "http://s", show_hints=True)["task"]
    assert "eta" not in hintless and "progress_percent" not in hintless


def test_eta_error_is_bounded_by_the_bias():
    body = result_body(make_task(eta_bias=-0.3), T0 + 2, "http://s", show_hints=True)["task"]
    assert body["eta"] == 70 and body["progress_percent"] == 0
    late = result_body(make_task(), T0 + 30, "http://s", show_hints=True)["task"]
    assert late["eta"] == 0 and late["progress_percent"] == 99  # waiting for the render


def test_professional_task_type():
    body = result_body(make_task(mode="Professional"), T0, "http://s", True)
    assert body["task"]["task_type"] == "KLING_V16_I2V_PROFESSIONAL"


def test_new_task_draws_from_the_config_ranges():
    cfg = SimConfig(speed=10, queue_seconds=(2, 4), standard_seconds=(60, 120),
                    professional_seconds=(300, 300))
    dice = Dice(1)
    for _ in range(50):
        task = new_task("Standard", 5, cfg, dice, T0, WALL0)
        assert 0.2 <= task.queue_s <= 0.4 and 6 <= task.gen_s <= 12
        assert -0.3 <= task.eta_bias <= 0.3 and task.fail_reason is None
    assert new_task("Professional", 10, cfg, dice, T0, WALL0).gen_s == 30


def test_new_task_is_reproducible_with_a_seed():
    cfg = SimConfig(seed=9)
    a = new_task("Standard", 5, cfg, Dice(9), T0, WALL0)
    b = new_task("Standard", 5, cfg, Dice(9), T0, WALL0)
    assert a == b


def test_fault_knobs_shape_new_tasks():
    cfg = SimConfig(standard_seconds=(100, 100), p_slow=1.0, p_task_failed=1.0, p_no_hints=1.0)
    task = new_task("Standard", 5, cfg, Dice(1), T0, WALL0)
    assert task.gen_s == 100 * SLOW_FACTOR
    assert task.fail_reason and 0 < task.fail_after_s <= task.gen_s
    assert task.hinted is False


def test_store_counts_in_flight_and_its_peak():
    clock = [T0]
    store = TaskStore(clock=lambda: clock[0])
    tasks = [make_task(task_id=f"{i:032x}", created_at=T0 + i) for i in range(3)]
    for i, task in enumerate(tasks):
        clock[0] = T0 + i
        store.add(task)
    assert store.peak_in_flight == 3 and store.in_flight(T0 + 3) == 3
    store.rendered(tasks[0].task_id, b"v", None)  # rendered at T0 + 2
    assert store.in_flight(T0 + 12) == 2
    assert store.peak_in_flight == 3
    store.rendered("unknown", b"v", None)  # ignored
    store.reset()
    assert store.get(tasks[0].task_id) is None and store.peak_in_flight == 0


def test_store_frees_expired_videos_but_keeps_the_task():
    store = TaskStore(clock=lambda: T0)
    task = make_task(video=b"x", rendered_at=T0)
    store.add(task)
    store.drop_expired_videos(T0 + 12 + 359)
    assert task.video == b"x"
    store.drop_expired_videos(T0 + 12 + 360)
    assert task.video is None and store.get(task.task_id) is task


@pytest.mark.parametrize("speed", [1.0, 20.0])
def test_eta_is_in_provider_seconds(speed):
    task = make_task(speed=speed, queue_s=0.0, gen_s=120 / speed)
    assert result_body(task, T0, "http://s", True)["task"]["eta"] == 120
