import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import highway_sim
from highway_sim.__main__ import build_parser, config_from_args
from highway_sim.config import SimConfig


def parse(*argv):
    return config_from_args(build_parser().parse_args(list(argv)))


def test_no_flags_gives_the_defaults():
    assert parse() == SimConfig()


def test_flags_map_to_config_fields():
    cfg = parse("--speed", "20", "--full-size", "--p-submit-429", "0.2", "--seed", "5", "--api-key", "a",
                "--api-key", "b", "--standard-seconds", "1", "2", "--rate-limit-per-minute", "7",
                "--video-url-ttl", "60", "--p-lost-reply", "1")
    assert (cfg.speed, cfg.full_size, cfg.p_submit_429, cfg.seed) == (20.0, True, 0.2, 5)
    assert cfg.api_keys == frozenset({"a", "b"}) and cfg.standard_seconds == (1.0, 2.0)
    assert (cfg.rate_limit_per_minute, cfg.video_url_ttl, cfg.p_lost_reply) == (7, 60, 1.0)


def test_every_config_field_has_a_flag():
    options = {opt for action in build_parser()._actions for opt in action.option_strings}
    for name in SimConfig.__dataclass_fields__:
        flag = "--api-key" if name == "api_keys" else "--" + name.replace("_", "-")
        assert flag in options


def test_invalid_values_exit_with_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        from highway_sim.__main__ import main
        main(["--p-slow", "2"])
    assert info.value.code == 2
    assert "p_slow" in capsys.readouterr().err


def test_serves_until_interrupted():
    package_root = Path(highway_sim.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": f"{package_root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen([sys.executable, "-m", "highway_sim", "--port", "0", "--speed", "20"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        assert "HighwayAPI simulator on http://127.0.0.1:" in line
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        assert requests.get(url + "/_sim/config", timeout=5).json()["speed"] == 20.0
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
