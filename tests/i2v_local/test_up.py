"""`i2v up`'s port check, signal handling and banner (i2v_local/up.py)."""

from __future__ import annotations

import os
import shlex
import signal
import socket
from pathlib import Path

import pytest

from i2v_local.up import banner, port_problem, stop_on_signals


def test_a_busy_port_is_named_with_a_free_one_to_use_instead():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        problem = port_problem(port)
    assert f"port {port} on 127.0.0.1 is already in use" in problem and "`--port " in problem
    assert port_problem(port) is None  # free again
    assert "expected 1 to 65535" in port_problem(70000)


def test_sigterm_becomes_a_keyboard_interrupt_then_the_old_handler_is_back():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs between bytecodes of the main thread
            pass
    assert signal.getsignal(signal.SIGTERM) is before


def test_banner_lines_are_whole_commands():
    lines = banner("http://127.0.0.1:4566", "i2v-local", "uploads/", "outputs/", "the simulator",
                   Path(".i2v-up/.i2v/lambda.log"))
    commands = {shlex.split(line, comments=True)[0].rsplit("/", 1)[-1]: shlex.split(line, comments=True)
                for line in lines if line.startswith("  ")}
    assert set(commands) == {"export", "aws", "python", "curl", "i2v"}
    assert commands["export"][1:] == ["AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
                                      "AWS_DEFAULT_REGION=us-east-1"]
    assert commands["aws"] == ["aws", "--endpoint-url", "http://127.0.0.1:4566", "s3", "cp", "cat.png",
                               "s3://i2v-local/uploads/"]
    assert commands["python"][1] == "-c" and "upload_file('cat.png', 'i2v-local', 'uploads/cat.png')" in \
        commands["python"][2]
    assert commands["i2v"][1:] == ["jobs", "list", "--endpoint-url", "http://127.0.0.1:4566"]
