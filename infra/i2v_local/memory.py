"""In-memory adapters with the real adapters' semantics, for unit tests and simulations.

Each one behaves like its AWS adapter in ``i2v.aws`` (same methods, same conditional rules) and
counts the AWS requests the real adapter would make for each call, as ``service.Operation``, in a
shared ``Meter``: the backlog benchmark prices a simulated run from those counts, and
``tests/unit/aws/test_adapter_contracts.py`` runs one suite against both kinds, request counts
included, so the two cannot drift apart.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import quote

from i2v.backlog import LANES, Waiting
from i2v.capacity import Lease
from i2v.contracts.errors import ObjectChanged
from i2v.contracts.job import Pin
from i2v.contracts.status import JobStatus, Priority
from i2v.jobs.build import ObjectHead


class Meter:
    """AWS requests by ``service.Operation``."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, operation: str, n: int = 1) -> None:
        self.counts[operation] += n

    def total(self, service: str | None = None) -> int:
        return sum(v for k, v in self.counts.items() if service is None or k.startswith(service + "."))


@dataclass
class StoredObject:
    data: bytes
    version_id: str | None
    etag: str
    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None


class MemoryBucket:
    """A bucket (versioned unless told otherwise) with the methods of i2v.aws.s3.S3Bucket.

    ``reads`` records every ranged read (key, start, end) so tests can see how much was read.
    ``upload_stream`` stores the object only once the stream has been read to its end, as a
    multipart upload that is aborted on error would.
    """

    def __init__(self, bucket: str = "media", meter: Meter | None = None, versioned: bool = True) -> None:
        self.bucket = bucket
        self.meter = meter or Meter()
        self.versioned = versioned
        self.objects: dict[str, list[StoredObject]] = {}
        self.reads: list[tuple[str, int, int]] = []
        self.presigned: list[tuple[str, int, str | None]] = []
        self._versions = itertools.count(1)

    # writes that set the scene (not metered: they are the users' uploads)
    def put(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None,
            content_type: str | None = None) -> str | None:
        n = next(self._versions)
        etag = hashlib.md5(data).hexdigest()  # noqa: S324 - S3's ETag of a single-part upload
        version = f"v{n}" if self.versioned else None
        stored = StoredObject(data, version, etag, dict(metadata or {}), content_type)
        if self.versioned:
            self.objects.setdefault(key, []).append(stored)
        else:
            self.objects[key] = [stored]
        return version

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def _find(self, key: str, pin: Pin | None) -> StoredObject | None:
        versions = self.objects.get(key)
        if not versions:
            if pin and pin.etag and not pin.version_id:
                return None
            return None
        if pin is not None and pin.version_id:
            return next((v for v in versions if v.version_id == pin.version_id), None)
        latest = versions[-1]
        if pin is not None and pin.etag and latest.etag != pin.etag:
            raise ObjectChanged(f"{key} was replaced after this job's upload (it asked for ETag {pin.etag}); "
                                "the newer upload is a job of its own")
        return latest

    # ObjectStore
    def head(self, key: str, pin: Pin | None = None) -> ObjectHead | None:
        self.meter.add("s3.HeadObject")
        obj = self._find(key, pin)
        if obj is None:
            return None
        return ObjectHead(size=len(obj.data), etag=obj.etag, version_id=obj.version_id, metadata=dict(obj.metadata),
                          content_type=obj.content_type)

    def _get(self, key: str, pin: Pin | None) -> StoredObject:
        self.meter.add("s3.GetObject")
        obj = self._find(key, pin)
        if obj is None:
            raise KeyError(f"NoSuchKey: {key} ({pin})")
        return obj

    def read_range(self, key: str, start: int, end: int, pin: Pin | None = None) -> bytes:
        if end < start:
            return b""
        self.reads.append((key, start, end))
        return self._get(key, pin).data[start:end + 1]

    def read_all(self, key: str, max_bytes: int, pin: Pin | None = None) -> bytes:
        self.reads.append((key, 0, max_bytes - 1))
        return self._get(key, pin).data[:max_bytes]

    # the rest of S3Bucket
    def presign_get(self, key: str, expires_in: int, version_id: str | None = None) -> str:
        self.presigned.append((key, expires_in, version_id))
        url = f"https://{self.bucket}.s3.example.com/{quote(key)}?X-Amz-Expires={expires_in}"
        return url + (f"&versionId={version_id}" if version_id else "")

    def put_json(self, key: str, document: dict[str, Any]) -> str | None:
        self.meter.add("s3.PutObject")
        return self.put(key, json.dumps(document, ensure_ascii=False).encode(), content_type="application/json")

    def upload_stream(self, key: str, stream: BinaryIO, content_type: str = "video/mp4") -> str | None:
        self.meter.add("s3.PutObject")
        parts = []
        while True:
            chunk = stream.read(64 * 1024)
            if not chunk:
                break
            parts.append(chunk)
        return self.put(key, b"".join(parts), content_type=content_type)

    def copy_version(self, key: str, version_id: str, target: str) -> str | None:
        self.meter.add("s3.HeadObject")
        self.meter.add("s3.CopyObject")
        source = self._find(key, Pin(version_id=version_id))
        if source is None:
            raise KeyError(f"NoSuchVersion: {key} {version_id}")
        return self.put(target, source.data, content_type=source.content_type)

    def delete_version(self, key: str, version_id: str) -> None:
        self.meter.add("s3.DeleteObject")
        versions = [v for v in self.objects.get(key, []) if v.version_id != version_id]
        if versions:
            self.objects[key] = versions
        else:
            self.objects.pop(key, None)

    # reading back
    def data(self, key: str) -> bytes:
        return self.objects[key][-1].data

    def json(self, key: str) -> Any:
        return json.loads(self.data(key))

    def has(self, key: str) -> bool:
        return key in self.objects

    def fetch(self, url: str) -> bytes:
        """What a presigned URL of this bucket serves (the version it names, else the latest)."""
        from urllib.parse import parse_qs, unquote, urlsplit

        parts = urlsplit(url)
        key = unquote(parts.path.lstrip("/"))
        version = parse_qs(parts.query).get("versionId", [None])[0]
        obj = self._find(key, Pin(version_id=version) if version else None)
        if obj is None:
            raise KeyError(f"NoSuchKey: {key} ({version})")
        return obj.data

    def versions(self, key: str) -> int:
        return len(self.objects.get(key, []))


class MemoryJobs:
    """i2v.aws.jobs_table.JobsTable in a dict."""

    def __init__(self, meter: Meter | None = None) -> None:
        self.meter = meter or Meter()
        self.items: dict[str, dict[str, Any]] = {}

    def _item(self, job_id: str) -> dict[str, Any]:
        return self.items.setdefault(job_id, {"job_id": job_id})

    def _set(self, job_id: str, fields: Mapping[str, Any]) -> None:
        fields = {k: copy.deepcopy(v) for k, v in fields.items() if v is not None}
        if fields:
            self._item(job_id).update(json.loads(json.dumps(fields)))

    def update(self, job_id: str, **fields: Any) -> None:
        if any(v is not None for v in fields.values()):
            self.meter.add("dynamodb.UpdateItem")
        self._set(job_id, fields)

    def create(self, job_id: str, **fields: Any) -> bool:
        self.meter.add("dynamodb.UpdateItem")
        if "status" in self.items.get(job_id, {}):
            return False
        self._set(job_id, {**fields, "status": JobStatus.RECEIVED.value})
        return True

    def transition(self, job_id: str, expected: JobStatus, status: JobStatus, **fields: Any) -> bool:
        self.meter.add("dynamodb.UpdateItem")
        if self.items.get(job_id, {}).get("status") != expected.value:
            return False
        self._set(job_id, {**fields, "status": status.value})
        return True

    def dead_letter(self, job_id: str, **fields: Any) -> bool:
        self.meter.add("dynamodb.UpdateItem")
        if self.items.get(job_id, {}).get("status") not in (None, JobStatus.RECEIVED.value):
            return False
        self._set(job_id, {**fields, "status": JobStatus.DEAD_LETTER.value})
        return True

    def _once(self, job_id: str, attribute: str, value: Any) -> bool:
        self.meter.add("dynamodb.UpdateItem")
        item = self._item(job_id)
        if attribute in item:
            return False
        item[attribute] = value
        return True

    def mark_submit_started(self, job_id: str, at: str) -> bool:
        return self._once(job_id, "submit_started_at", at)

    def clear_submit_started(self, job_id: str) -> None:
        self.meter.add("dynamodb.UpdateItem")
        self._item(job_id).pop("submit_started_at", None)

    def claim_notification(self, job_id: str, at: str) -> bool:
        return self._once(job_id, "notified_at", at)

    def unclaim_notification(self, job_id: str) -> None:
        self.meter.add("dynamodb.UpdateItem")
        self._item(job_id).pop("notified_at", None)

    def get(self, job_id: str) -> dict[str, Any] | None:
        self.meter.add("dynamodb.GetItem")
        item = self.items.get(job_id)
        return copy.deepcopy(item) if item else None

    def scan(self, limit: int | None = None) -> list[dict[str, Any]]:
        self.meter.add("dynamodb.Scan")
        rows = [copy.deepcopy(i) for i in self.items.values()]
        return rows[:limit] if limit else rows


class MemoryBacklog:
    """i2v.aws.backlog.DynamoBacklog over a MemoryJobs table (the GSI is a sorted view of its items)."""

    def __init__(self, jobs: MemoryJobs) -> None:
        self.jobs = jobs
        self.meter = jobs.meter
        self.count = 0

    def park(self, job_id: str, priority: Priority, order: str, fields: Mapping[str, Any]) -> bool:
        self.meter.add("dynamodb.TransactWriteItems")
        if self.jobs.items.get(job_id, {}).get("status") != JobStatus.RECEIVED.value:
            return False
        self.jobs._set(job_id, {**fields, "status": JobStatus.QUEUED.value, "backlog_lane": priority.value,
                                "backlog_order": order})
        self.count += 1
        return True

    def _listed(self, lane: Priority) -> list[dict[str, Any]]:
        return sorted((i for i in self.jobs.items.values()
                       if i.get("backlog_lane") == lane.value and "backlog_order" in i),
                      key=lambda i: str(i["backlog_order"]))

    def head(self, limit: int) -> list[Waiting]:
        out = []
        for lane in LANES:
            self.meter.add("dynamodb.Query")
            for item in self._listed(lane)[:limit]:
                out.append(Waiting(job_id=item["job_id"], lane=lane, order=item["backlog_order"],
                                   status=JobStatus(item.get("status", JobStatus.QUEUED)),
                                   claimed_until=item.get("claimed_until"), not_before=item.get("not_before")))
        return out

    def claim(self, job_id: str, until: float, now: float) -> dict[str, Any] | None:
        self.meter.add("dynamodb.UpdateItem")
        item = self.jobs.items.get(job_id)
        if item is None or "backlog_order" not in item:
            return None
        status = item.get("status")
        free = (status == JobStatus.QUEUED.value and (item.get("not_before") is None or item["not_before"] <= now)) \
            or (status == JobStatus.SUBMITTING.value and item.get("claimed_until", 0) <= now)
        if not free:
            return None
        item.update(status=JobStatus.SUBMITTING.value, claimed_until=until)
        return copy.deepcopy(item)

    def unclaim(self, job_id: str, *, not_before: float | None = None, attempts: int | None = None) -> None:
        self.meter.add("dynamodb.UpdateItem")
        item = self.jobs.items.get(job_id)
        if item is None or item.get("status") != JobStatus.SUBMITTING.value:
            return
        item["status"] = JobStatus.QUEUED.value
        item.pop("claimed_until", None)
        if not_before is not None:
            item["not_before"] = not_before
        if attempts is not None:
            item["attempts"] = attempts

    def leave(self, job_id: str) -> bool:
        self.meter.add("dynamodb.TransactWriteItems")
        item = self.jobs.items.get(job_id)
        if item is None or "backlog_order" not in item:
            return False
        for name in ("backlog_lane", "backlog_order", "claimed_until", "not_before"):
            item.pop(name, None)
        self.count -= 1
        return True

    def size(self) -> int:
        self.meter.add("dynamodb.GetItem")
        return max(0, self.count)


class MeteredLeaseStore:
    """i2v.aws.control_table.DynamoLeaseStore's requests around the in-memory lease semantics."""

    def __init__(self, meter: Meter | None = None) -> None:
        self.meter = meter or Meter()
        self.items: dict[str, Lease] = {}

    def read(self, items: list[str]) -> dict[str, Lease]:
        self.meter.add("dynamodb.BatchGetItem", max(1, -(-len(items) // 100)))
        return {i: self.items[i] for i in items if i in self.items}

    def try_take(self, item: str, holder: str, until: float, now: float) -> bool:
        self.meter.add("dynamodb.UpdateItem")
        lease = self.items.get(item)
        if lease and lease.holder and lease.until > now:
            return False
        self.items[item] = Lease(item, holder, until)
        return True

    def give_back(self, item: str, holder: str) -> bool:
        self.meter.add("dynamodb.UpdateItem")
        lease = self.items.get(item)
        if not lease or lease.holder != holder:
            return False
        self.items[item] = Lease(item, None, 0.0)
        return True


class MemoryWorkflow:
    """Step Functions by execution name: a repeated name starts nothing and returns False."""

    def __init__(self, meter: Meter | None = None) -> None:
        self.meter = meter or Meter()
        self.executions: dict[str, dict[str, Any]] = {}
        self.running: set[str] = set()
        self.calls: list[str] = []

    def start(self, name: str, state: dict[str, Any]) -> bool:
        self.meter.add("stepfunctions.StartExecution")
        self.calls.append(name)
        if name in self.executions:
            return False
        self.executions[name] = json.loads(json.dumps(state))  # what Step Functions would receive
        self.running.add(name)
        return True

    def finish(self, name: str) -> None:
        self.running.discard(name)

    def is_running(self, name: str) -> bool:
        self.meter.add("stepfunctions.DescribeExecution")
        return name in self.running


class MemoryNotifier:
    def __init__(self, meter: Meter | None = None) -> None:
        self.meter = meter or Meter()
        self.published: list[dict[str, Any]] = []
        self.fail_next: Exception | None = None

    def publish(self, notification: dict[str, Any]) -> str:
        self.meter.add("sns.Publish")
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.published.append(json.loads(json.dumps(notification)))
        return f"msg-{len(self.published)}"


class MemoryWaker:
    """The dispatcher's wake queue: what was sent, now or later."""

    def __init__(self, meter: Meter | None = None) -> None:
        self.meter = meter or Meter()
        self.now: list[str] = []
        self.later: list[float] = []

    def wake(self, reason: str = "now") -> None:
        self.meter.add("sqs.SendMessage")
        self.now.append(reason)

    def wake_later(self, seconds: float, reason: str = "later") -> None:
        self.meter.add("sqs.SendMessage")
        self.later.append(seconds)


class MemoryOutputNames:
    """i2v.aws.outputs.DynamoOutputNames in a dict: who may write each output name (the newest upload)."""

    def __init__(self, meter: Meter | None = None) -> None:
        self.meter = meter or Meter()
        self.items: dict[str, dict[str, str]] = {}

    def claim(self, name: str, order: str, job_id: str) -> bool:
        self.meter.add("dynamodb.UpdateItem")
        item = self.items.get(name)
        if item is not None and item["order"] > order:
            return False
        self.items[name] = {"order": order, "job_id": job_id}
        return True

    def confirm(self, name: str, order: str, version_id: str | None) -> bool:
        self.meter.add("dynamodb.UpdateItem")
        item = self.items.get(name)
        if item is None or item["order"] != order:
            return False
        item["written_version"] = version_id or "-"
        return True
