"""HTTP layer: the provider's three public routes, the ``/_sim`` admin routes, and the server.

Plain ``http.server`` with one thread per connection (HTTP/1.1 keep-alive, as clients pool
connections). ``stop`` closes idle keep-alive connections so it can join every thread.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from .config import SimConfig
from .dice import Dice
from .errors import ApiError, bad_request
from .ratelimit import SlidingWindowLimiter
from .rendering import RenderPool
from .stats import SimStats
from .tasks import SUCCEED, TaskStore, new_task, result_body
from .validation import SubmitRequest, check_image, check_prompt, fetch_image, image_identity, parse_submit
from .video import output_format, render_mp4

log = logging.getLogger(__name__)

SUBMIT_PATH = "/v3/async/kling-v1.6-i2v"
RESULT_PATH = "/v3/async/task-result"
VIDEO_PATH = re.compile(r"/videos/([0-9a-f]{32})\.mp4")
MAX_BODY = 1024 * 1024
CHUNK = 64 * 1024
RENDER_WORKERS = 2


class SimulatorServer:
    """The simulated provider on ``host:port`` (port 0 picks a free one).

    Use as a context manager, or ``start()`` / ``stop()``. ``clock`` and ``wall`` exist for
    tests that want to drive time by hand.
    """

    def __init__(self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0, *,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self._config = config if config is not None else SimConfig()
        self._config_lock = threading.Lock()
        self._address = (host, port)
        self.clock = clock
        self.wall = wall
        self.dice = Dice(self._config.seed)
        self.tasks = TaskStore(clock, wall)
        self.counters = SimStats()
        self.limiter = SlidingWindowLimiter(clock)
        self.pool = RenderPool(RENDER_WORKERS)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> SimulatorServer:
        if self._httpd is not None:
            raise RuntimeError("simulator already started")
        self.pool.start()
        self._httpd = _HTTPServer(self._address, _Handler, self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="highway-sim-http", daemon=True)
        self._thread.start()
        log.info("HighwayAPI simulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and join every thread started: HTTP loop, connections, renderers."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.close_open_connections()
            httpd.server_close()  # joins the connection threads
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.pool.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("simulator is not running")
        host, port = self._httpd.server_address[:2]
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        return f"http://{host}:{port}"

    # --- admin ------------------------------------------------------------------------------
    @property
    def config(self) -> SimConfig:
        with self._config_lock:
            return self._config

    def update_config(self, **knobs: Any) -> SimConfig:
        """Change knobs at run time; tasks already created keep the timings they drew."""
        with self._config_lock:
            self._config = self._config.replace(**knobs)
            config = self._config
        if "seed" in knobs:
            self.dice.reseed(config.seed)
        return config

    def reset(self) -> None:
        """Forget tasks and counters (and restart the seeded sequence); keep the config."""
        self.pool.cancel_all()
        self.tasks.reset()
        self.counters.reset()
        self.limiter.reset()
        self.dice.reseed(self.config.seed)

    def stats(self) -> dict[str, Any]:
        snap = self.counters.snapshot()
        return {
            "submit_requests": snap["submit_requests"],
            "tasks_created": snap["tasks_created"],
            "submissions": snap["submissions"],
            "duplicate_identities": snap["duplicate_identities"],
            "in_flight_now": self.tasks.in_flight(self.clock()),
            "peak_in_flight": self.tasks.peak_in_flight,
            "rate_limited": snap["rate_limited"],
            "faults": snap["faults"],
            "result_requests": snap["result_requests"],
            "video_requests": snap["video_requests"],
        }

    # --- provider behaviour (called by the handler) -----------------------------------------
    def create_task(self, request: SubmitRequest, start: Any, end: Any, config: SimConfig) -> str:
        """Accept a checked submission: store the task, count it, start rendering."""
        task = new_task(request.mode, request.duration, config, self.dice, self.clock(), self.wall())
        self.tasks.add(task)
        self.counters.task_created({
            "task_id": task.task_id,
            "mode": request.mode,
            "duration": request.duration,
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "guidance_scale": request.guidance_scale,
            "image_url": request.image_url,
            "end_image_url": request.end_image_url,
            "image_identity": image_identity(request.image_url),
            "received_at": task.created_wall,
            "fields_sent": list(request.fields_sent),
        })
        if task.fail_reason is not None:
            self.counters.fault("task_failed")  # a failing task needs no video
        else:
            fmt = output_format(request.mode, config.full_size)
            self.pool.submit(
                task.task_id,
                lambda cancel: render_mp4(start, end, request.duration, fmt, cancel),
                self.tasks.rendered,
            )
        return task.task_id


class _HTTPServer(ThreadingHTTPServer):
    """Tracks open connections so ``stop`` can close idle keep-alive ones and join threads."""

    daemon_threads = True
    block_on_close = True  # server_close joins the connection threads

    def __init__(self, address: tuple[str, int], handler: type, sim: SimulatorServer) -> None:
        self.sim = sim
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with %r", client_address, sys.exc_info()[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HighwaySim/1.0"
    timeout = 120  # idle keep-alive connections close after this
    disable_nagle_algorithm = True  # headers and body go out in separate writes: avoid 40 ms stalls
    server: _HTTPServer

    @property
    def sim(self) -> SimulatorServer:
        return self.server.sim

    # --- dispatch ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_HEAD(self) -> None:
        """Video links only: some downloaders ask for the size first."""
        self._dispatch("HEAD")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        routes: dict[tuple[str, str], Callable[[dict[str, list[str]]], None]] = {
            ("POST", SUBMIT_PATH): self._submit,
            ("GET", RESULT_PATH): self._result,
            ("GET", "/_sim/stats"): lambda _q: self._send_json(200, self.sim.stats()),
            ("GET", "/_sim/config"): lambda _q: self._send_json(200, self.sim.config.to_dict()),
            ("POST", "/_sim/config"): self._admin_config,
            ("POST", "/_sim/reset"): self._admin_reset,
        }
        try:
            self._body = self._read_body()  # always drained, so keep-alive stays in sync
            handler = routes.get((method, path))
            if handler is not None:
                handler(query)
            elif method in ("GET", "HEAD") and VIDEO_PATH.fullmatch(path):
                self._video(VIDEO_PATH.fullmatch(path).group(1), query)
            elif any(route_path == path for _m, route_path in routes):
                raise ApiError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {path}")
            else:
                raise ApiError(404, "NOT_FOUND", f"no route {path}")
        except ApiError as exc:
            self._send_json(exc.status, exc.body())
        except OSError:  # the client went away mid-reply
            self.close_connection = True
        except Exception:
            log.exception("simulator bug on %s %s", method, path)
            self._send_json(500, {"code": 500, "reason": "INTERNAL_ERROR", "message": "simulator error"})

    # --- provider routes --------------------------------------------------------------------
    def _slow(self) -> None:
        if self.sim.config.reply_delay_seconds > 0:
            time.sleep(self.sim.config.reply_delay_seconds)

    def _submit(self, _query: dict[str, list[str]]) -> None:
        self._slow()
        sim, stats = self.sim, self.sim.counters
        stats.count("submit_requests")
        config = sim.config
        self._authorize(config)
        if not sim.limiter.allow(config.rate_limit_per_minute, config.real(60.0)):
            stats.count("rate_limited")
            raise ApiError(429, "RATE_LIMIT_EXCEEDED", "rate limit exceeded: too many requests per minute")
        if sim.dice.chance(config.p_submit_429):
            stats.fault("submit_429")
            raise ApiError(429, "RATE_LIMIT_EXCEEDED", "rate limit exceeded: too many requests per minute")
        if sim.dice.chance(config.p_submit_5xx):
            stats.fault("submit_5xx")
            raise ApiError(500, "CREATE_TASK_FAILED", "failed to create the task, try again later")
        request = parse_submit(self._body)
        check_prompt(request.prompt)
        start = check_image(fetch_image(request.image_url, "image_url", config.fetch_timeout), "image_url")
        end = None
        if request.end_image_url is not None:
            end = check_image(fetch_image(request.end_image_url, "end_image_url", config.fetch_timeout),
                              "end_image_url")
        task_id = sim.create_task(request, start, end, config)
        if sim.dice.chance(config.p_lost_reply):
            stats.fault("lost_reply")
            self._drop_connection()
            return
        self._send_json(200, {"task_id": task_id})

    def _result(self, query: dict[str, list[str]]) -> None:
        self._slow()
        sim, stats = self.sim, self.sim.counters
        stats.count("result_requests")
        config = sim.config
        self._authorize(config)
        task_id = (query.get("task_id") or [""])[0]
        if not task_id:
            raise bad_request("task_id is required")
        if sim.dice.chance(config.p_result_5xx):
            stats.fault("result_5xx")
            raise ApiError(500, "GET_RESULT_FAILED", "failed to get the task result, try again later")
        task = sim.tasks.get(task_id)
        if task is None:
            raise ApiError(404, "TASK_NOT_FOUND", f"task {task_id} not found")
        show_hints = sim.dice.chance(config.hint_probability)
        self._send_json(200, result_body(task, sim.clock(), self._public_base(), show_hints))

    def _video(self, task_id: str, query: dict[str, list[str]]) -> None:
        sim, stats = self.sim, self.sim.counters
        stats.count("video_requests")
        now = sim.clock()
        sim.tasks.drop_expired_videos(now)
        task = sim.tasks.get(task_id)
        if task is None or task.status(now)[0] != SUCCEED:
            raise ApiError(404, "NOT_FOUND", "no such video")
        expires = task.expires_at()
        if (query.get("expires") or [""])[0] != str(int(task.wall(expires))):
            raise ApiError(403, "ACCESS_DENIED", "the URL is not valid for this video")
        video = task.video
        if video is None:
            raise ApiError(404, "NOT_FOUND", "the video URL has expired")
        if sim.dice.chance(sim.config.p_video_404):
            stats.fault("video_404")
            raise ApiError(404, "NOT_FOUND", "no such video")
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(video)))
        if self.command == "HEAD":
            self.end_headers()
            return
        truncated = sim.dice.chance(sim.config.p_video_truncated)
        if truncated:
            self.send_header("Connection", "close")
        self.end_headers()
        view = memoryview(video)[: len(video) // 2] if truncated else memoryview(video)
        for offset in range(0, len(view), CHUNK):
            self.wfile.write(view[offset: offset + CHUNK])
        if truncated:
            stats.fault("video_truncated")
            self.close_connection = True  # the client is left waiting for the other half

    # --- admin routes -----------------------------------------------------------------------
    def _admin_config(self, _query: dict[str, list[str]]) -> None:
        try:
            knobs = json.loads(self._body or b"{}")
            if not isinstance(knobs, dict):
                raise TypeError("body must be a JSON object of knob overrides")
            config = self.sim.update_config(**knobs)
        except (ValueError, TypeError) as exc:
            raise bad_request(str(exc)) from None
        self._send_json(200, config.to_dict())

    def _admin_reset(self, _query: dict[str, list[str]]) -> None:
        self.sim.reset()
        self._send_json(200, {"reset": True})

    # --- helpers ----------------------------------------------------------------------------
    def _authorize(self, config: SimConfig) -> str:
        header = self.headers.get("Authorization", "").strip()
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if not header or (scheme.lower() == "bearer" and not key):
            raise ApiError(400, "MISSING_API_KEY", "an Authorization header 'Bearer <API key>' is required")
        if scheme.lower() != "bearer":
            raise ApiError(403, "INVALID_API_KEY", "the Authorization header must be 'Bearer <API key>'")
        if config.api_keys is not None and key not in config.api_keys:
            raise ApiError(403, "INVALID_API_KEY", "the API key is not valid")
        return key

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise bad_request("chunked request bodies are not supported; send Content-Length")
        length_text = self.headers.get("Content-Length", "0").strip() or "0"
        if not length_text.isdigit():
            self.close_connection = True
            raise bad_request("invalid Content-Length")
        length = int(length_text)
        if length > MAX_BODY:
            self.close_connection = True  # the unread body must not be parsed as a request
            raise bad_request("request body is too large")
        return self.rfile.read(length) if length else b""

    def _public_base(self) -> str:
        """Base URL for video links, as the client reached us (Host header)."""
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.sim.url

    def _drop_connection(self) -> None:
        """Close without any reply: the client cannot tell whether the task was created."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # method, path and status only: never headers (Authorization) nor query strings
        log.info("%s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s: " + format, self.address_string(), *args)
