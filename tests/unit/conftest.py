"""Unit-test ground rules and the small fakes the tests pass in instead of AWS, HTTP or time.

* Every unit test runs with the network switched off (pytest-socket): any attempt to open an
  internet socket fails the test with SocketBlockedError.
* Tests run with --import-mode=importlib, so nothing can be imported from this file: the fakes
  are handed out as fixtures (``fakes`` gives the classes, the other fixtures ready instances).
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_socket
import requests
from PIL import Image
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.response import HTTPResponse

# Powertools' Tracer opens the X-Ray SDK's UDP emitter socket when i2v.observability is first imported (as
# the Lambda does at cold start). Import it here, before any test blocks sockets, so that no test's result
# depends on whether an earlier test happened to import it first.
import i2v.observability  # noqa: F401
from i2v.batch import close_row
from i2v.capacity import Capacity
from i2v.clock import iso
from i2v.notification import build_notification
from i2v.settings import DispatchSettings, IntakeSettings
from i2v.steps.batch import Chunk, take_batch, take_rows
from i2v.steps.dispatch import DispatchDeps, Dispatcher
from i2v.steps.intake import IntakeDeps, Outcome, Upload, take
from i2v_local.memory import (
    MemoryBacklog,
    MemoryBucket,
    MemoryClaims,
    MemoryJobs,
    MemoryLedger,
    MemoryNotifier,
    MemoryRows,
    MemoryWaker,
    MemoryWorkflow,
    Meter,
    MeteredLeaseStore,
)

EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: a round, readable start for the fake clock


# --- network guard ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_network():
    """Unit tests never touch the network (unix sockets stay allowed for local tooling)."""
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()


# --- time ---------------------------------------------------------------------------------------


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = EPOCH) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


# --- AWS: the in-memory adapters (same semantics and request counts as i2v.aws) ------------------
# See i2v_local.memory; tests/unit/aws/test_adapter_contracts.py holds them against the real ones.


# --- the provider -------------------------------------------------------------------------------


class ScriptedClient:
    """A HighwayClient stand-in: each call takes the next scripted reply; exceptions are raised."""

    def __init__(self, submit: list | None = None, results: list | None = None) -> None:
        self.submit_replies = list(submit or [])
        self.result_replies = list(results or [])
        self.submitted: list = []
        self.polled: list[str] = []

    @staticmethod
    def _next(script: list, what: str):
        if not script:
            raise AssertionError(f"unexpected {what} call: nothing scripted")
        reply = script.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def submit(self, request) -> str:
        self.submitted.append(request)
        return self._next(self.submit_replies, "submit")

    def get_result(self, task_id: str):
        self.polled.append(task_id)
        return self._next(self.result_replies, "get_result")


# --- HTTP without sockets -----------------------------------------------------------------------


@dataclass
class Sent:
    method: str
    url: str
    headers: dict
    body: bytes | None
    timeout: Any


@dataclass
class Reply:
    """An HTTP reply the fake transport plays back; ``body`` may be bytes or a file-like object."""

    status: int = 200
    body: Any = b""
    headers: dict = field(default_factory=dict)
    reason: str = ""

    @classmethod
    def json(cls, status: int, document: Any, headers: dict | None = None) -> Reply:
        return cls(
            status, json.dumps(document).encode(), {"Content-Type": "application/json", **(headers or {})}
        )

    def build(self, request: requests.PreparedRequest) -> requests.Response:
        fp = io.BytesIO(self.body) if isinstance(self.body, (bytes, bytearray)) else self.body
        raw = HTTPResponse(
            body=fp,
            headers=self.headers,
            status=self.status,
            reason=self.reason or None,
            preload_content=False,
            decode_content=False,
            request_url=request.url,
        )
        return HTTPAdapter().build_response(request, raw)


class FakeTransport(BaseAdapter):
    """A requests transport adapter that plays back scripted replies and records what was sent.

    A scripted item is a Reply, an exception to raise (as requests' own adapter would), or a
    callable taking the PreparedRequest and returning either.
    """

    def __init__(self, *replies: Any) -> None:
        super().__init__()
        self.replies = list(replies)
        self.sent: list[Sent] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        body = request.body.encode() if isinstance(request.body, str) else request.body
        self.sent.append(Sent(request.method, request.url, dict(request.headers), body, timeout))
        if not self.replies:
            raise AssertionError(f"unexpected HTTP request {request.method} {request.url}")
        reply = self.replies.pop(0)
        if callable(reply) and not isinstance(reply, Reply):
            reply = reply(request)
        if isinstance(reply, BaseException):
            raise reply
        return reply.build(request)

    def close(self) -> None:
        pass


def session_with(transport: FakeTransport, *prefixes: str) -> requests.Session:
    """A Session whose requests under ``prefixes`` (default: every http and https URL) go to ``transport``."""
    session = requests.Session()
    for prefix in prefixes or ("https://", "http://"):
        session.mount(prefix, transport)
    return session


# --- images -------------------------------------------------------------------------------------


def image_bytes(width: int = 640, height: int = 480, fmt: str = "PNG", **save: Any) -> bytes:
    img = Image.new("RGB", (width, height), (30, 120, 200))
    for x in range(0, width, 37):
        img.putpixel((x, x % height), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def fakes() -> SimpleNamespace:
    """The fake classes and helpers, for tests that need more than one of a kind."""
    return SimpleNamespace(
        Clock=FakeClock,
        Meter=Meter,
        Bucket=MemoryBucket,
        JobsTable=MemoryJobs,
        Backlog=MemoryBacklog,
        Claims=MemoryClaims,
        Ledger=MemoryLedger,
        Rows=MemoryRows,
        LeaseStore=MeteredLeaseStore,
        Workflow=MemoryWorkflow,
        Notifier=MemoryNotifier,
        Waker=MemoryWaker,
        Client=ScriptedClient,
        Transport=FakeTransport,
        Reply=Reply,
        session_with=session_with,
        image_bytes=image_bytes,
        EPOCH=EPOCH,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def meter() -> Meter:
    return Meter()


@pytest.fixture
def bucket(meter: Meter) -> MemoryBucket:
    return MemoryBucket("media", meter)


@pytest.fixture
def jobs_table(meter: Meter) -> MemoryJobs:
    return MemoryJobs(meter)


@pytest.fixture
def backlog(jobs_table: MemoryJobs) -> MemoryBacklog:
    return MemoryBacklog(jobs_table)


@pytest.fixture
def claims(meter: Meter) -> MemoryClaims:
    return MemoryClaims(meter)


@pytest.fixture
def workflow(meter: Meter) -> MemoryWorkflow:
    return MemoryWorkflow(meter)


@pytest.fixture
def notifier(meter: Meter) -> MemoryNotifier:
    return MemoryNotifier(meter)


@pytest.fixture
def waker(meter: Meter) -> MemoryWaker:
    return MemoryWaker(meter)


@pytest.fixture
def provider() -> ScriptedClient:
    return ScriptedClient()


@pytest.fixture
def image_data() -> Callable[..., bytes]:
    """image_data(width, height, fmt="PNG", **save_options) -> encoded bytes made by Pillow."""
    return image_bytes


# --- a batch file's world -----------------------------------------------------------------------

BATCH_BUCKET = "media"


class BatchScene:
    """A batch file's world on the in-memory adapters: intake with its ledger and row queue, a dispatcher,
    and what the workflow and the store step do for each started job (``finish_all``)."""

    def __init__(self, fakes, clock, grace: float = 0.0) -> None:
        self.fakes, self.clock, self.meter = fakes, clock, fakes.Meter()
        self.bucket = fakes.Bucket(BATCH_BUCKET, self.meter)
        self.jobs = fakes.JobsTable(self.meter)
        self.backlog = fakes.Backlog(self.jobs)
        self.workflow = fakes.Workflow(self.meter)
        self.ledger = fakes.Ledger(self.meter)
        self.rows = fakes.Rows(self.meter)
        self.notifier = fakes.Notifier(self.meter)
        self.provider = fakes.Client(submit=[f"task-{i}" for i in range(1000)])
        self.deps = IntakeDeps(settings=IntakeSettings(bucket=BATCH_BUCKET, jobs_table="j", control_table="c",
                                                       state_machine_arn="sm", wake_queue_url="w",
                                                       image_grace_seconds=grace),
                               bucket=self.bucket, jobs=self.jobs, backlog=self.backlog, workflow=self.workflow,
                               claims=fakes.Claims(self.meter), clock=clock)
        self.deps.on_batch = lambda job, redrive: take_batch(job, redrive, self.deps, self.ledger, self.rows.send)
        self.dispatcher = Dispatcher(DispatchDeps(
            settings=DispatchSettings(bucket=BATCH_BUCKET, jobs_table="j", control_table="c", idempotency_table="i",
                                      state_machine_arn="sm", wake_queue_url="w"),
            backlog=self.backlog, jobs=self.jobs,
            capacity=Capacity(fakes.LeaseStore(self.meter), 1000, 1000, 60.0, clock=clock),
            client=lambda: self.provider, bucket=self.bucket, workflow=self.workflow, wake_later=lambda s: None,
            clock=clock, rng=random.Random(1)))

    def put(self, key: str, data: bytes, **kw) -> Outcome:
        version = self.bucket.put(key, data)
        return take(Upload("ObjectCreated:Put", BATCH_BUCKET, key, version_id=version, event_time=iso(self.clock())),
                    self.deps)

    def deliver_rows(self) -> list[Outcome]:
        out = []
        while self.rows.sent:
            out += take_rows(Chunk.from_message(self.rows.sent.pop(0)), self.deps)
        return out

    def finish_all(self) -> list[dict]:
        """What the workflow and the store step do for every started or rejected job: one notification each."""
        summaries = []
        for name, state in list(self.workflow.executions.items()):
            job = state["job"]
            ok = state["error"] is None
            note = build_notification(job=job, status="SUCCEEDED" if ok else "FAILED",
                                      task_id=(state.get("task") or {}).get("task_id"), provider_status=None,
                                      output={"bucket": BATCH_BUCKET, "key": job["video_key"], "size_bytes": 1,
                                              "url": "https://x/v.mp4", "url_expires_at": iso(self.clock())}
                                      if ok else None, error=state["error"], notified_at=self.clock())
            self.notifier.publish(note)
            done = close_row(note, self.ledger, self.bucket, self.notifier.publish, self.clock())
            if done:
                summaries.append(done)
            del self.workflow.executions[name]
        return summaries


@pytest.fixture
def batch_scene(fakes, clock) -> Callable[..., BatchScene]:
    """batch_scene(grace=0.0) -> a BatchScene on this test's fakes and clock."""
    return lambda grace=0.0: BatchScene(fakes, clock, grace)
