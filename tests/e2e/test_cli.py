"""The `i2v` command line as a user types it: a real subprocess, no TTY, no AWS configuration at all.

Every AWS_* variable is removed from the environment of the commands, as on a new machine; the
local cloud and the commands pointed at it must not need any.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from support import I2V, video_info

pytestmark = pytest.mark.e2e


def clean_env(extra: dict | None = None) -> dict:
    """The environment of a new machine: no AWS configuration, no provider URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HIGHWAY_API_BASE_URL"}
    return {**env, **(extra or {})}


def run_cli(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([str(I2V), *args], cwd=cwd, env=clean_env(env), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Up:
    """`i2v up` in the background; its stderr read line by line by a thread, so no read can hang."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([str(I2V), "up", "--port", str(self.port), *args], cwd=cwd, env=clean_env(),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 60) -> list[str]:
        end = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            line = self.lines.get(timeout=max(0.1, end - time.monotonic()))
            if line is None:
                raise AssertionError(f"`i2v up` ended before printing {text!r}: {self.seen}")
            self.seen.append(line)
        return self.seen

    def stop(self, timeout: float = 30, sig: signal.Signals = signal.SIGTERM) -> tuple[int, str]:
        """Send one signal and wait for the end (a second signal would mean: stop at once)."""
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        time.sleep(0.2)
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.seen.append(line)
        return code, "\n".join(self.seen)


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


def test_a_bad_flag_mix_lists_every_problem_before_anything_starts(tmp_path, make_image):
    make_image("a.png")
    make_image("a-end.png")
    started = time.monotonic()
    result = run_cli(["local", "a.png", "--duration", "7", "--guidance-scale", "1.5", "--end-image", "a-end.png",
                      "--out", "out"], cwd=tmp_path, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert elapsed < 4, elapsed  # the cloud (several seconds to start) never started
    assert "starting the embedded cloud" not in result.stderr and not (tmp_path / "out").exists()
    assert "3 problems" in result.stderr
    for fix in ("`--duration 5` or `--duration 10`", "`--guidance-scale 0.5`", "add `--mode Professional`"):
        assert fix in result.stderr, result.stderr
    assert "end_image" not in result.stderr  # no internal names
    assert result.stdout == ""


def test_a_job_file_with_out_dot_is_refused_and_left_untouched(tmp_path, make_image):
    make_image("a.png")
    job = tmp_path / "job.json"
    job.write_text('{"image": "a.png", "prompt": "a slow turn"}\n')
    before = job.read_bytes()
    result = run_cli(["local", "job.json", "--out", "."], cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "over the input job.json" in result.stderr and "--out i2v-output" in result.stderr
    assert "starting the embedded cloud" not in result.stderr
    assert job.read_bytes() == before and not (tmp_path / "job.mp4").exists()


def test_a_folder_in_any_mode_case(tmp_path, make_image, notification_validator):
    """`--mode professional` (lower case) and a folder: its images, recursively, `_` names not jobs,
    `_defaults.json` applied, as the pipeline treats the same folder uploaded to S3."""
    make_image("shots/b.png", 640, 480)
    make_image("shots/sub/a.jpg", 480, 640)
    make_image("shots/_frames/unused.png")
    (tmp_path / "shots" / "_defaults.json").write_text('{"prompt": "from the folder defaults"}')
    result = run_cli(["local", "shots", "--mode", "professional", "--json", "--speed", "40"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    notes = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(n["source"]["key"] for n in notes) == ["uploads/shots/b.png", "uploads/shots/sub/a.jpg"]
    for note in notes:
        notification_validator.validate(note)
        assert note["status"] == "SUCCEEDED"
        assert note["request"]["mode"] == "Professional"
        assert note["request"]["prompt"] == "from the folder defaults"
    portrait = video_info(tmp_path / "i2v-output" / "shots" / "sub" / "a.mp4")
    assert (portrait["width"], portrait["height"]) == (360, 480)
    assert "video (simulated preview)" in result.stderr


def test_a_folder_with_nothing_to_do_is_refused_with_a_hint(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli(["local", "empty"], cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "empty is a folder with no .jpg, .jpeg, .png image or .json job file" in result.stderr


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
    assert "Simulated preview" in page and "simulated preview" in result.stderr
    info = video_info(tmp_path / "demo" / "sample.mp4")
    assert max(info["width"], info["height"]) >= 480, info
    out = tmp_path / "demo"
    assert f"(`i2v jobs list --local {out}`)" in result.stderr  # one line, however long: it copies whole


def test_up_banner_commands_run_as_printed_with_no_aws_configuration(tmp_path):
    """Copy the banner's lines into a shell: export, then upload with boto3, curl (and the AWS CLI if
    installed), then `i2v jobs list` as printed, all with no AWS variable set beforehand."""
    from support import image_bytes

    up = Up(tmp_path, "--speed", "40")
    try:
        lines = up.wait_for("Ctrl-C stops everything")
        commands = {shlex.split(line, comments=True)[0].rsplit("/", 1)[-1]: line.strip()
                    for line in lines if line.startswith("  ")}
        assert set(commands) == {"export", "aws", "python", "curl", "i2v"}, lines
        assert all(up.endpoint in commands[name] for name in ("aws", "python", "curl", "i2v"))
        (tmp_path / "cat.png").write_bytes(image_bytes(640, 480))

        def shell(*command_lines: str) -> subprocess.CompletedProcess:
            return subprocess.run(["bash", "-c", " && ".join(command_lines)], cwd=tmp_path, env=clean_env(),
                                  capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

        uploaded = shell(commands["export"], commands["python"])
        assert uploaded.returncode == 0, uploaded.stderr
        aws_cli = shlex.split(commands["aws"], comments=True)
        assert aws_cli == ["aws", "--endpoint-url", up.endpoint, "s3", "cp", "cat.png", "s3://i2v-local/uploads/"]
        if shutil.which("aws") and shell("aws --version").returncode == 0:  # not installed by the project
            uploaded = shell(commands["export"], commands["aws"])
            assert uploaded.returncode == 0, uploaded.stderr
        if shutil.which("curl"):
            uploaded = shell(commands["curl"])  # needs no credentials at all
            assert uploaded.returncode == 0, uploaded.stderr
        listed, end = None, time.monotonic() + 120  # each `i2v jobs list` is a fresh interpreter
        while time.monotonic() < end:
            listed = shell(commands["i2v"])  # as printed, without the export
            assert listed.returncode == 0, listed.stderr
            if "SUCCEEDED" in listed.stdout and not any(s in listed.stdout for s in ("QUEUED", "GENERATING",
                                                                                         "STORING")):
                break
            time.sleep(1)
        assert "SUCCEEDED" in listed.stdout and "uploads/cat.png" in listed.stdout, listed.stdout
        as_json = run_cli(["jobs", "list", "--endpoint-url", up.endpoint, "--json"], cwd=tmp_path)
        rows = [json.loads(line) for line in as_json.stdout.splitlines()]
        assert rows and {r["status"] for r in rows} == {"SUCCEEDED"}
        shown = run_cli(["jobs", "show", rows[0]["job_id"][:8], "--endpoint-url", up.endpoint], cwd=tmp_path)
        assert shown.returncode == 0 and "SUCCEEDED" in shown.stdout, shown.stderr
    finally:
        code, err = up.stop()
    assert code == 0 and err.endswith("stopped"), err
    assert "Traceback" not in err
    with socket.socket() as probe:  # nothing listens on the port any more (TIME_WAIT aside)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", up.port))


def test_up_on_a_busy_port_exits_2_naming_port_at_once(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        result = run_cli(["up", "--port", str(port)], cwd=tmp_path, timeout=30)
        elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert f"port {port}" in result.stderr and "--port" in result.stderr and "already in use" in result.stderr
    assert elapsed < 8, elapsed
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_up_stops_on_a_signal_during_start_up(tmp_path, sig):
    up = Up(tmp_path)
    up.wait_for("starting the local cloud")
    code, err = up.stop(timeout=20, sig=sig)
    assert code == 0 and err.endswith("stopped"), err
    assert "local cloud up" not in err and "Traceback" not in err


def test_jobs_commands_without_a_cloud_fail_in_one_line(tmp_path):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for args in (["jobs", "list", "--endpoint-url", endpoint], ["jobs", "show", "abc", "--endpoint-url", endpoint],
                 ["redrive", "--endpoint-url", endpoint]):
        result = run_cli(args, cwd=tmp_path, timeout=60)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and f"nothing answers at {endpoint}" in lines[0] and "`i2v up`" in lines[0], lines
    debug = run_cli(["--debug", "jobs", "list", "--endpoint-url", endpoint], cwd=tmp_path, timeout=60)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "EndpointConnectionError" in debug.stderr
    no_region = run_cli(["jobs", "list"], cwd=tmp_path, env={"AWS_CONFIG_FILE": str(tmp_path / "none")}, timeout=60)
    assert no_region.returncode == 1 and len(no_region.stderr.strip().splitlines()) == 1, no_region.stderr
    assert "--region" in no_region.stderr


def test_jobs_list_reads_a_local_run_folder(tmp_path):
    rows = [{"job_id": "0123456789abcdef0123456789abcdef", "status": "FAILED", "source": {"key": "uploads/a.png"},
             "uploaded_at": "2026-11-25T18:30:40Z", "error": {"code": "IMAGE_TOO_SMALL"}}]
    (tmp_path / "out" / ".i2v").mkdir(parents=True)
    (tmp_path / "out" / ".i2v" / "jobs.json").write_text(json.dumps(rows))
    result = run_cli(["jobs", "list", "--local", "out", "--status", "failed"], cwd=tmp_path)
    assert result.returncode == 0 and "IMAGE_TOO_SMALL" in result.stdout and "0123456789ab" in result.stdout
