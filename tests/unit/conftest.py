"""Unit-test ground rules and the small fakes the tests pass in instead of AWS, HTTP or time.

* Every unit test runs with the network switched off (pytest-socket): any attempt to open an
  internet socket fails the test with SocketBlockedError.
* Tests run with --import-mode=importlib, so nothing can be imported from this file: the fakes
  are handed out as fixtures (``fakes`` gives the classes, the other fixtures ready instances).
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
import pytest_socket
import requests
from PIL import Image
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.response import HTTPResponse

from i2v.jobs.build import ObjectHead

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


# --- the bucket (ObjectStore for jobs.build, plus the writes of the store step) ------------------


@dataclass
class StoredObject:
    data: bytes
    version_id: str | None
    etag: str
    metadata: dict = field(default_factory=dict)
    content_type: str | None = None


class FakeBucket:
    """An in-memory versioned bucket with the methods of i2v.aws.s3.S3Bucket.

    ``reads`` records every ranged read (key, start, end) so tests can see how much was read.
    ``upload_stream`` stores the object only once the stream has been read to its end, as a
    multipart upload that is aborted on error would.
    """

    def __init__(self, bucket: str = "media") -> None:
        self.bucket = bucket
        self.objects: dict[str, list[StoredObject]] = {}
        self.reads: list[tuple[str, int, int]] = []
        self.presigned: list[tuple[str, int, str | None]] = []
        self._versions = 0

    # writes used by tests to set the scene
    def put(
        self, key: str, data: bytes, metadata: dict | None = None, content_type: str | None = None
    ) -> str:
        self._versions += 1
        version = f"v{self._versions}"
        self.objects.setdefault(key, []).append(
            StoredObject(data, version, f"etag{self._versions}", dict(metadata or {}), content_type)
        )
        return version

    def _find(self, key: str, version_id: str | None) -> StoredObject | None:
        versions = self.objects.get(key)
        if not versions:
            return None
        if version_id is None:
            return versions[-1]
        return next((v for v in versions if v.version_id == version_id), None)

    def _get(self, key: str, version_id: str | None) -> StoredObject:
        obj = self._find(key, version_id)
        if obj is None:
            raise KeyError(f"NoSuchKey: {key} (version {version_id})")
        return obj

    # ObjectStore
    def head(self, key: str, version_id: str | None = None) -> ObjectHead | None:
        obj = self._find(key, version_id)
        if obj is None:
            return None
        return ObjectHead(
            size=len(obj.data),
            etag=obj.etag,
            version_id=obj.version_id,
            metadata=dict(obj.metadata),
            content_type=obj.content_type,
        )

    def read_range(self, key: str, start: int, end: int, version_id: str | None = None) -> bytes:
        self.reads.append((key, start, end))
        if end < start:
            return b""
        return self._get(key, version_id).data[start : end + 1]

    def read_all(self, key: str, max_bytes: int, version_id: str | None = None) -> bytes:
        self.reads.append((key, 0, max_bytes - 1))
        return self._get(key, version_id).data[:max_bytes]

    # adapter writes
    def presign_get(self, key: str, expires_in: int, version_id: str | None = None) -> str:
        self.presigned.append((key, expires_in, version_id))
        url = f"https://{self.bucket}.s3.example.com/{quote(key)}?X-Amz-Expires={expires_in}"
        return url + (f"&versionId={version_id}" if version_id else "")

    def put_json(self, key: str, document: dict) -> None:
        self.put(key, json.dumps(document, ensure_ascii=False).encode(), content_type="application/json")

    def upload_stream(self, key: str, stream, content_type: str = "video/mp4") -> None:
        parts = []
        while True:
            chunk = stream.read(64 * 1024)
            if not chunk:
                break
            parts.append(chunk)
        self.put(key, b"".join(parts), content_type=content_type)

    # reading back
    def data(self, key: str) -> bytes:
        return self._get(key, None).data

    def json(self, key: str) -> dict:
        return json.loads(self.data(key))

    def has(self, key: str) -> bool:
        return key in self.objects

    def versions(self, key: str) -> int:
        return len(self.objects.get(key, []))


# --- the jobs table -----------------------------------------------------------------------------


class FakeJobsTable:
    """Same methods and conditional semantics as i2v.aws.jobs_table.JobsTable, in a dict."""

    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def _item(self, job_id: str) -> dict:
        return self.items.setdefault(job_id, {"job_id": job_id})

    def update(self, job_id: str, **fields: Any) -> None:
        fields = {k: copy.deepcopy(v) for k, v in fields.items() if v is not None}
        if fields:
            self._item(job_id).update(fields)

    def get(self, job_id: str) -> dict | None:
        item = self.items.get(job_id)
        return copy.deepcopy(item) if item else None

    def _conditional(self, job_id: str, attribute: str, value: Any) -> bool:
        item = self._item(job_id)
        if attribute in item:
            return False
        item[attribute] = value
        return True

    def mark_submit_started(self, job_id: str, at: str) -> bool:
        return self._conditional(job_id, "submit_started_at", at)

    def clear_submit_started(self, job_id: str) -> None:
        self._item(job_id).pop("submit_started_at", None)

    def claim_notification(self, job_id: str, at: str) -> bool:
        return self._conditional(job_id, "notified_at", at)

    def unclaim_notification(self, job_id: str) -> None:
        self._item(job_id).pop("notified_at", None)


# --- workflow, notifier, queue ------------------------------------------------------------------


class FakeWorkflow:
    """Step Functions by execution name: a repeated name starts nothing and returns False."""

    def __init__(self) -> None:
        self.executions: dict[str, dict] = {}
        self.calls: list[str] = []

    def start(self, name: str, state: dict) -> bool:
        self.calls.append(name)
        if name in self.executions:
            return False
        self.executions[name] = json.loads(json.dumps(state))  # what Step Functions would receive
        return True


class FakeNotifier:
    def __init__(self) -> None:
        self.published: list[dict] = []
        self.fail_next: Exception | None = None

    def publish(self, notification: dict) -> str:
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.published.append(json.loads(json.dumps(notification)))
        return f"msg-{len(self.published)}"


class SendLater:
    """Records what the submit step puts back on the queue: (body, delay, attempt, deferrals).

    ``redrives`` keeps the redrive number of each call (an operator's retry), in the same order.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[dict, int, int, int]] = []
        self.redrives: list[int] = []

    def __call__(self, body: dict, delay: int, attempt: int, deferrals: int, redrive: int = 0) -> None:
        self.calls.append((body, delay, attempt, deferrals))
        self.redrives.append(redrive)


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
        Bucket=FakeBucket,
        JobsTable=FakeJobsTable,
        Workflow=FakeWorkflow,
        Notifier=FakeNotifier,
        SendLater=SendLater,
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
def bucket() -> FakeBucket:
    return FakeBucket("media")


@pytest.fixture
def jobs_table() -> FakeJobsTable:
    return FakeJobsTable()


@pytest.fixture
def workflow() -> FakeWorkflow:
    return FakeWorkflow()


@pytest.fixture
def notifier() -> FakeNotifier:
    return FakeNotifier()


@pytest.fixture
def send_later() -> SendLater:
    return SendLater()


@pytest.fixture
def provider() -> ScriptedClient:
    return ScriptedClient()


@pytest.fixture
def image_data() -> Callable[..., bytes]:
    """image_data(width, height, fmt="PNG", **save_options) -> encoded bytes made by Pillow."""
    return image_bytes
