"""Operating it: `i2v jobs` and `i2v redrive` against a local run and a live local cloud, and the
API key never showing up in anything a user or operator sees."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from support import I2V, Pipeline, image_bytes

pytestmark = pytest.mark.e2e
KEY = "sk-LEAKCHECK-7f3e9a1c5b2d4e6f"


def i2v(*args: str, cwd=None, env: dict | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HIGHWAY_API_BASE_URL", None)
    return subprocess.run([str(I2V), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def test_a_good_and_a_bad_job_then_jobs_list_and_show_and_no_key_anywhere(tmp_path, make_image):
    from highway_sim.config import SimConfig
    from highway_sim.server import SimulatorServer

    make_image("good.png")
    (tmp_path / "bad.jpg").write_bytes(image_bytes(200, 200, "JPEG"))
    with SimulatorServer(SimConfig(speed=40, seed=3, api_keys={KEY}), host="127.0.0.1", port=0) as sim:
        run = i2v("local", "good.png", "bad.jpg", "--provider-url", sim.url, "--speed", "40", "--out", "out",
                  "--json", cwd=tmp_path, env={"HIGHWAY_API_KEY": KEY})
    assert run.returncode == 1, run.stderr[-2000:]  # one job failed
    listed = i2v("jobs", "list", "--local", "out", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {json.loads(line)["source"]["key"]: json.loads(line) for line in listed.stdout.splitlines()}
    assert rows["uploads/good.png"]["status"] == "SUCCEEDED"
    assert rows["uploads/bad.jpg"]["status"] == "FAILED"
    shown = i2v("jobs", "show", rows["uploads/bad.jpg"]["job_id"][:10], "--local", "out", cwd=tmp_path)
    assert shown.returncode == 0 and "IMAGE_TOO_SMALL" in shown.stdout
    table = i2v("jobs", "list", "--local", "out", cwd=tmp_path)
    assert "SUCCEEDED" in table.stdout and "FAILED" in table.stdout

    # The key was used (the simulator only accepts it) but appears nowhere we produced.
    produced = [run.stdout, run.stderr, listed.stdout, shown.stdout]
    produced += [p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*") if p.is_file()
                 and p.suffix in (".json", ".log", ".html")]
    assert (tmp_path / "out" / ".i2v" / "lambda.log").stat().st_size > 0  # the functions did log
    assert not [text[:200] for text in produced if KEY in text]


def test_jobs_and_retry_against_a_live_local_cloud(notification_validator):
    with Pipeline(sim_knobs={"p_task_failed": 1.0}) as p:
        p.put("uploads/flaky.png", image_bytes())
        first = p.wait_for(1, timeout=60)[0]["notification"]
        assert first["error"]["code"] == "TASK_FAILED"
        listed = i2v("jobs", "list", "--endpoint-url", p.cloud.endpoint, "--status", "FAILED", "--json")
        assert listed.returncode == 0, listed.stderr
        job = json.loads(listed.stdout.splitlines()[0])
        assert job["job_id"] == first["job_id"]

        p.sim.update_config(p_task_failed=0.0)
        retried = i2v("jobs", "retry", job["job_id"][:12], "--endpoint-url", p.cloud.endpoint, "--json")
        assert retried.returncode == 0, retried.stderr
        assert json.loads(retried.stdout)["execution_name"] == f"job-{job['job_id']}-r1"
        second = p.wait_for(2, timeout=60, settle=2)[1]["notification"]
        notification_validator.validate(second)
        assert second["status"] == "SUCCEEDED" and second["job_id"] == first["job_id"]
        shown = i2v("jobs", "show", job["job_id"], "--endpoint-url", p.cloud.endpoint, "--json")
        assert json.loads(shown.stdout)["status"] == "SUCCEEDED"
        assert len(p.wait_for(2, timeout=1, settle=1)) == 2  # no third notification
        assert p.sim.stats()["tasks_created"] == 2  # the retry paid again, on purpose, once

        not_failed = i2v("jobs", "retry", job["job_id"], "--endpoint-url", p.cloud.endpoint)
        assert not_failed.returncode == 2 and "only FAILED jobs" in not_failed.stderr
        unknown = i2v("jobs", "show", "ffffffff", "--endpoint-url", p.cloud.endpoint)
        assert unknown.returncode == 2 and "no job" in unknown.stderr


def test_redrive_command_moves_dead_letters_back(tmp_path):
    with Pipeline(cloud_knobs={"visibility_timeout": 1}) as p:
        sqs = p.cloud.client("sqs")
        sqs.send_message(QueueUrl=p.cloud.dlq_url, MessageBody=json.dumps({"Event": "s3:TestEvent"}))
        moved = i2v("redrive", "--endpoint-url", p.cloud.endpoint)
        assert moved.returncode == 0 and "moved 1 message" in moved.stderr
        end = time.monotonic() + 10
        while sum(p.cloud.queue_depths().values()) and time.monotonic() < end:
            time.sleep(0.3)
        assert p.cloud.queue_depths() == {"queue": 0, "dlq": 0}  # a test event is consumed, not failed
