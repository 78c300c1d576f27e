"""`i2v local` and `i2v demo` as a user runs them: a real subprocess, real MP4s, real notifications."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from support import I2V, video_info

pytestmark = pytest.mark.e2e


def run_cli(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HIGHWAY_API_BASE_URL", None)
    return subprocess.run([str(I2V), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def test_local_two_images_json(tmp_path, make_image, notification_validator):
    make_image("shots/a.png", 640, 480)
    make_image("b.jpg", 480, 640)
    out = tmp_path / "out"
    result = run_cli(["local", "shots/a.png", "b.jpg", "--out", str(out), "--json", "--prompt", "a calm scene"],
                     cwd=tmp_path, env={"HIGHWAY_API_KEY": "k"})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 2, result.stdout
    notes = [json.loads(line) for line in lines]
    for note in notes:
        notification_validator.validate(note)
        assert note["status"] == "SUCCEEDED"
        assert note["request"]["prompt"] == "a calm scene"
    for rel in ("shots/a", "b"):
        info = video_info(out / f"{rel}.mp4")
        assert info["codec"] == "h264" and info["frames"] > 0
        assert abs(info["duration"] - 5.0) < 0.25
        manifest = json.loads((out / f"{rel}.json").read_text())
        assert manifest["output"]["key"] == f"outputs/{rel}.mp4"


def test_local_against_an_external_provider_url(tmp_path, make_image):
    """Any server honouring the provider contract works; here a simulator started outside the CLI."""
    from highway_sim.config import SimConfig
    from highway_sim.server import SimulatorServer

    make_image("a.png")
    make_image("b.jpg", 800, 600)
    with SimulatorServer(SimConfig(speed=40, seed=5, api_keys={"k-123"}), host="127.0.0.1", port=0) as sim:
        result = run_cli(["local", "a.png", "b.jpg", "--provider-url", sim.url, "--out", "D", "--json",
                          "--speed", "40"],
                         cwd=tmp_path, env={"HIGHWAY_API_KEY": "k-123"}, timeout=600)
        stats = sim.stats()
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(result.stdout.strip().splitlines()) == 2
    assert (tmp_path / "D" / "a.mp4").stat().st_size > 0 and (tmp_path / "D" / "b.mp4").stat().st_size > 0
    assert stats["tasks_created"] == 2 and not stats["duplicate_identities"]


def test_usage_errors_exit_2(tmp_path):
    result = run_cli(["local", "missing.png"], cwd=tmp_path)
    assert result.returncode == 2
    assert "missing.png" in result.stderr and "expected" in result.stderr
    assert result.stdout == ""


def test_a_failed_job_exits_1_with_a_failure_notification(tmp_path, make_image, notification_validator):
    (tmp_path / "fake.png").write_bytes(b"GIF89a" + b"\0" * 100)
    result = run_cli(["local", "fake.png", "--json"], cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    note = json.loads(result.stdout.strip())
    notification_validator.validate(note)
    assert note["status"] == "FAILED" and note["error"]["code"] == "IMAGE_FORMAT_UNSUPPORTED"
    assert note["provider"]["task_id"] is None


def test_demo_ends_with_video_notification_and_page(tmp_path):
    result = run_cli(["demo", "--out", "demo"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert video_info(tmp_path / "demo" / "sample.mp4")["frames"] > 0
    assert json.loads((tmp_path / "demo" / "sample.json").read_text())["status"] == "SUCCEEDED"
    page = (tmp_path / "demo" / "index.html").read_text()
    assert "<video" in page and "sample.mp4" in page
    assert "index.html" in result.stderr


def test_up_serves_a_local_cloud_until_stopped(tmp_path):
    import signal
    import socket
    import time

    import boto3

    from support import image_bytes

    with socket.socket() as probe:  # a free port for the local cloud
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ}
    env.pop("HIGHWAY_API_BASE_URL", None)
    proc = subprocess.Popen([str(I2V), "up", "--port", str(port), "--speed", "40"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
        banner = proc.stderr.readline()  # printed once everything is provisioned and listening
        assert "local cloud up" in banner, banner
        s3.put_object(Bucket="i2v-local", Key="uploads/up.png", Body=image_bytes())
        rows = []
        end = time.monotonic() + 120  # the job itself, each `i2v jobs list` a fresh interpreter
        while time.monotonic() < end and not any(r.get("status") == "SUCCEEDED" for r in rows):
            listed = run_cli(["jobs", "list", "--endpoint-url", endpoint, "--json"], cwd=tmp_path,
                             env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"})
            assert listed.returncode == 0, listed.stderr[-1000:]
            rows = [json.loads(line) for line in listed.stdout.splitlines()]
            time.sleep(1)
        assert [r["status"] for r in rows] == ["SUCCEEDED"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped" in err
