"""`i2v up`'s pieces: the port check, stopping on SIGTERM or Ctrl-C at any moment, and the banner.

The banner's commands are meant to be copied as they are: one command a line, nothing wrapped,
comments after `#` so a pasted line still runs.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from i2v_local.ops import LOCAL_CREDENTIALS, LOCAL_REGION

HOST = "127.0.0.1"
SAMPLE_NAME = "cat.png"


def port_problem(port: int) -> str | None:
    """Why the local cloud cannot listen on the port, with what to do; None when it can."""
    if not 1 <= port <= 65535:
        return f"`--port {port}` is not a TCP port; expected 1 to 65535, e.g. `--port 4566`"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is no owner
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            return (f"port {port} on {HOST} is already in use ({exc.strerror}; another local AWS emulator or "
                    f"`i2v up`?); stop it, or pick a free port with `--port {_free_port()}`")
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C (KeyboardInterrupt) from now on, during start-up too; a second
    signal while stopping ends the process at once."""

    def stop(*_args) -> None:
        signal.signal(signal.SIGTERM, force)
        signal.signal(signal.SIGINT, force)
        raise KeyboardInterrupt

    def force(*_args) -> None:
        sys.stderr.write("stopping at once\n")
        os._exit(1)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def banner(endpoint: str, bucket: str, uploads_prefix: str, outputs_prefix: str, provider: str,
           log_path: Path) -> list[str]:
    """The lines `i2v up` prints once it serves: each command runs as it is when pasted into a shell."""
    key = f"{uploads_prefix}{SAMPLE_NAME}"
    python = _command_path(Path(sys.executable))
    i2v = _command_path(Path(sys.executable).parent / "i2v")
    boto3_line = (f"import boto3; boto3.client('s3', endpoint_url='{endpoint}')"
                  f".upload_file('{SAMPLE_NAME}', '{bucket}', '{key}')")
    access_key, secret_key = LOCAL_CREDENTIALS
    return [
        f"local cloud up at {endpoint} (provider: {provider})",
        f"  export AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret_key} "
        f"AWS_DEFAULT_REGION={LOCAL_REGION}   # local credentials: any value works, no AWS account",
        f"  aws --endpoint-url {endpoint} s3 cp {SAMPLE_NAME} s3://{bucket}/{uploads_prefix}   # upload (AWS CLI)",
        f'  {python} -c "{boto3_line}"   # upload (boto3)',
        f"  curl -sS --fail --upload-file {SAMPLE_NAME} {endpoint}/{bucket}/{key}   # upload (curl)",
        f"  {i2v} jobs list --endpoint-url {endpoint}   # follow the jobs",
        f"outputs: s3://{bucket}/{outputs_prefix}   lambda logs: {log_path}",
        "Ctrl-C stops everything",
    ]


def _command_path(path: Path) -> str:
    """How to type a program of this installation: relative when it is below here, else absolute.

    Never resolved: the venv's python is a symlink, and only through it does boto3 import."""
    if not path.exists():
        return path.name
    shown = str(path)
    if path.is_absolute() and path.is_relative_to(Path.cwd()):
        shown = str(path.relative_to(Path.cwd()))
        shown = shown if "/" in shown else f"./{shown}"
    return shlex.quote(shown)
