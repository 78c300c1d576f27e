"""Fixtures for the simulator tests: an image host on 127.0.0.1, simulators, an API client.

Helpers are handed out as fixtures because tests run with --import-mode=importlib (no
importing from conftest).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from PIL import Image

from highway_sim.config import SimConfig
from highway_sim.server import RESULT_PATH, SUBMIT_PATH, SimulatorServer

TERMINAL = ("TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED")
# fast, deterministic timings: 0.1 s queued, 0.3 s generating, no rate limit in the way
FAST = {"speed": 100.0, "seed": 7, "queue_seconds": (10, 10), "standard_seconds": (30, 30),
        "professional_seconds": (30, 30), "rate_limit_per_minute": 10_000}


def make_image(width: int = 640, height: int = 360, fmt: str = "JPEG",
               color: tuple[int, int, int] = (200, 40, 40), pattern: bool = False) -> bytes:
    """Encoded image bytes; ``pattern`` draws stripes so camera motion changes the frames."""
    image = Image.new("RGB", (width, height), color)
    if pattern:
        for x in range(0, width, 40):
            image.paste((20, 20, 20), (x, 0, x + 20, height))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


class ImageHost:
    """A tiny HTTP server holding bytes by name, like an S3 bucket with public URLs."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, bytes]] = {}
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.split("?")[0].lstrip("/")
                status, data = host.files.get(name, (404, b"missing"))
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients (the simulator) may hang up early on purpose

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def put(self, name: str, data: bytes, status: int = 200) -> str:
        self.files[name] = (status, data)
        return f"{self.base}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class Client:
    """The provider API as a pipeline would call it."""

    def __init__(self, sim: SimulatorServer, key: str = "test-key") -> None:
        self.sim = sim
        self.session = requests.Session()
        self.session.trust_env = False
        self.headers = {"Authorization": f"Bearer {key}"}

    def submit(self, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
        return self.session.post(self.sim.url + SUBMIT_PATH, json=body,
                                 headers=self.headers if headers is None else headers, timeout=30)

    def result(self, task_id: str, headers: dict[str, str] | None = None) -> requests.Response:
        return self.session.get(self.sim.url + RESULT_PATH, params={"task_id": task_id},
                                headers=self.headers if headers is None else headers, timeout=30)

    def task_id(self, body: Any) -> str:
        reply = self.submit(body)
        assert reply.status_code == 200, reply.text
        return reply.json()["task_id"]

    def wait(self, task_id: str, timeout: float = 20.0, interval: float = 0.02) -> list[dict[str, Any]]:
        """Poll until terminal; returns every reply body seen."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.result(task_id)
            assert reply.status_code == 200, reply.text
            seen.append(reply.json())
            if seen[-1]["task"]["status"] in TERMINAL:
                return seen
            time.sleep(interval)
        raise AssertionError(f"task {task_id} not terminal after {timeout}s: {seen[-1]}")

    def close(self) -> None:
        self.session.close()


@pytest.fixture(scope="session")
def image_host() -> Iterator[ImageHost]:
    host = ImageHost()
    yield host
    host.close()


@pytest.fixture(scope="session")
def image_url(image_host: ImageHost) -> str:
    """A valid 640x360 JPEG start frame."""
    return image_host.put("start.jpg", make_image(pattern=True))


@pytest.fixture
def start_sim() -> Iterator[Callable[..., SimulatorServer]]:
    """Start simulators with FAST settings plus overrides; all are stopped afterwards."""
    started: list[SimulatorServer] = []

    def start(clock: Callable[[], float] | None = None, **overrides: Any) -> SimulatorServer:
        """``clock``: the simulator's monotonic clock (a test moves it instead of sleeping)."""
        extra = {"clock": clock} if clock is not None else {}
        sim = SimulatorServer(SimConfig(**{**FAST, **overrides}), **extra).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(start_sim: Callable[..., SimulatorServer]) -> SimulatorServer:
    return start_sim()


@pytest.fixture
def client(sim: SimulatorServer) -> Iterator[Client]:
    api = Client(sim)
    yield api
    api.close()


@pytest.fixture
def make_client() -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def make(sim: SimulatorServer, key: str = "test-key") -> Client:
        made.append(Client(sim, key))
        return made[-1]

    yield make
    for api in made:
        api.close()


@pytest.fixture(scope="session")
def images() -> Callable[..., bytes]:
    return make_image
