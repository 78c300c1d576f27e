"""In-memory adapters with the real adapters' semantics, for unit tests and simulations.

Each one behaves like its AWS adapter in ``i2v.aws`` (same methods, same conditional rules) and
counts the AWS requests the real adapter would make for each call, as ``service.Operation``, in a
shared ``Meter``: the backlog benchmark prices a simulated run from those counts, and
``tests/unit/aws/test_adapter_contracts.py`` runs one suite against both kinds, request counts
included, so the two cannot drift apart.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import itertools
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import quote

from i2v.backlog import LANES, Waiting
from i2v.capacity import Lease
from i2v.contracts.errors import ObjectChanged
from i2v.contracts.job import Pin
from i2v.contracts.status import JobStatus, Priority
from i2v.jobs.build import ObjectHead

_PLAIN = (str, int, float, bool, type(None))


def _copy(value: Any) -> Any:
    """copy.deepcopy for the JSON-like values items hold, several times faster; anything else is deep-copied."""
    kind = type(value)
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    if kind in _PLAIN:
        return value
    return copy.deepcopy(value)


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
    deleted: bool = False  # a delete marker: the key's latest "version" when it was deleted


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
        """As S3 does: a versioned bucket keeps the versions (a delete marker hides them), another forgets."""
        if self.versioned and key in self.objects:
            self.objects[key].append(StoredObject(b"", f"v{next(self._versions)}", "", deleted=True))
        else:
            self.objects.pop(key, None)

    def _find(self, key: str, pin: Pin | None) -> StoredObject | None:
        versions = self.objects.get(key)
        if not versions:
            if pin and pin.etag and not pin.version_id:
                return None
            return None
        if pin is not None and pin.version_id:
            return next((v for v in versions if v.version_id == pin.version_id and not v.deleted), None)
        latest = versions[-1]
        if latest.deleted:
            return None
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

    def digest(self, key: str, pin: Pin | None = None) -> str:
        return hashlib.sha256(self._get(key, pin).data).hexdigest()

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
        latest = self.objects[key][-1]
        if latest.deleted:
            raise KeyError(f"NoSuchKey: {key} (deleted)")
        return latest.data

    def json(self, key: str) -> Any:
        return json.loads(self.data(key))

    def has(self, key: str) -> bool:
        return key in self.objects and not self.objects[key][-1].deleted

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
        return sum(1 for v in self.objects.get(key, []) if not v.deleted)


class MemoryJobs:
    """i2v.aws.jobs_table.JobsTable in a dict."""

    def __init__(self, meter: Meter | None = None) -> None:
        self.meter = meter or Meter()
        self.items: dict[str, dict[str, Any]] = {}
        self._listeners: list[Callable[[str, Mapping[str, Any]], None]] = []  # MemoryBacklog's index
        self.created: dict[str, int] = {}  # job id -> when its item was made (ties in the backlog's order)

    def _item(self, job_id: str) -> dict[str, Any]:
        item = self.items.get(job_id)
        if item is None:
            item = self.items[job_id] = {"job_id": job_id}
            self.created[job_id] = len(self.created)
        return item

    def _set(self, job_id: str, fields: Mapping[str, Any]) -> None:
        fields = {k: v for k, v in fields.items() if v is not None}
        if fields:
            item = self._item(job_id)
            item.update(json.loads(json.dumps(fields)))  # a deep copy, as DynamoDB would store it
            if self._listeners and ("backlog_lane" in fields or "backlog_order" in fields):
                for listener in self._listeners:
                    listener(job_id, item)

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
        return _copy(item) if item else None

    def scan(self, limit: int | None = None) -> list[dict[str, Any]]:
        self.meter.add("dynamodb.Scan")
        rows = [_copy(i) for i in self.items.values()]
        return rows[:limit] if limit else rows


class MemoryBacklog:
    """i2v.aws.backlog.DynamoBacklog over a MemoryJobs table (the GSI is a sorted view of its items).

    Each lane keeps its entries ``(order, item made, job_id)`` in a sorted list that only grows at park time;
    an entry whose item has left the lane (or changed its order) is dropped lazily when a query
    meets it at the front, so ``head`` costs O(limit) however long the backlog, with the answers
    (and request counts) of sorting every listed item per query. Backlog keys written through
    ``MemoryJobs`` (``update``/``_set``) are indexed too.
    """

    def __init__(self, jobs: MemoryJobs) -> None:
        self.jobs = jobs
        self.meter = jobs.meter
        self.count = 0
        self._lanes: dict[str, list[tuple[str, int, str]]] = {lane.value: [] for lane in LANES}
        self._start: dict[str, int] = {lane.value: 0 for lane in LANES}  # entries before it are gone
        self._indexed: set[tuple[str, str, int, str]] = set()  # (lane, *entry) of every live entry
        jobs._listeners.append(self._index)
        for item in jobs.items.values():
            self._index(str(item.get("job_id")), item)

    def _index(self, job_id: str, item: Mapping[str, Any]) -> None:
        lane, order = item.get("backlog_lane"), item.get("backlog_order")
        if lane not in self._lanes or order is None:
            return
        entry = (str(order), self.jobs.created.get(job_id, 1 << 62), job_id)
        if (lane, *entry) in self._indexed:
            return
        self._indexed.add((lane, *entry))
        entries = self._lanes[lane]
        if not entries or entries[-1] <= entry:
            entries.append(entry)  # uploads mostly arrive in order
        else:
            bisect.insort(entries, entry, lo=self._start[lane])

    def _listed(self, lane: str, entry: tuple[str, int, str]) -> dict[str, Any] | None:
        item = self.jobs.items.get(entry[2])
        if item is None or item.get("backlog_lane") != lane or "backlog_order" not in item \
                or str(item["backlog_order"]) != entry[0]:
            return None
        return item

    def park(self, job_id: str, priority: Priority, order: str, fields: Mapping[str, Any],
             status: JobStatus = JobStatus.QUEUED) -> bool:
        self.meter.add("dynamodb.TransactWriteItems")
        if self.jobs.items.get(job_id, {}).get("status") != JobStatus.RECEIVED.value:
            return False
        self.jobs._set(job_id, {**fields, "status": status.value, "backlog_lane": priority.value,
                                "backlog_order": order})
        self.count += 1
        return True

    def release_held(self, job_id: str, fields: Mapping[str, Any]) -> bool:
        self.meter.add("dynamodb.UpdateItem")
        item = self.jobs.items.get(job_id)
        if item is None or item.get("status") != JobStatus.HELD.value:
            return False
        item.pop("held_error", None)
        item.pop("not_before", None)
        self.jobs._set(job_id, {**fields, "status": JobStatus.QUEUED.value})
        return True

    def withdraw(self, job_id: str) -> bool:
        self.meter.add("dynamodb.TransactWriteItems")
        item = self.jobs.items.get(job_id)
        if item is None or "backlog_order" not in item \
                or item.get("status") not in (JobStatus.QUEUED.value, JobStatus.HELD.value):
            return False
        for name in ("backlog_lane", "backlog_order", "not_before", "held_error"):
            item.pop(name, None)
        item["status"] = JobStatus.CLAIMED.value
        self.count -= 1
        return True

    def _first(self, lane: Priority, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` listed items of a lane, in order; drops entries found gone at the front."""
        name = lane.value
        entries, start, out = self._lanes[name], self._start[name], []
        i = start
        while i < len(entries) and len(out) < limit:
            item = self._listed(name, entries[i])
            if item is not None:
                out.append(item)
            elif i == start:
                self._indexed.discard((name, *entries[i]))
                start += 1
            i += 1
        if start > 1024 and start * 2 > len(entries):  # compact now and then
            del entries[:start]
            start = 0
        self._start[name] = start
        return out

    def head(self, limit: int) -> list[Waiting]:
        out = []
        for lane in LANES:
            self.meter.add("dynamodb.Query")
            for item in self._first(lane, limit):
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
        waiting = status in (JobStatus.QUEUED.value, JobStatus.HELD.value)
        free = (waiting and (item.get("not_before") is None or item["not_before"] <= now)) \
            or (status == JobStatus.SUBMITTING.value and item.get("claimed_until", 0) <= now)
        if not free:
            return None
        item.update(status=JobStatus.SUBMITTING.value, claimed_until=until)
        return _copy(item)

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


class MemoryClaims:
    """i2v.aws.claims.DynamoClaims in dicts."""

    def __init__(self, meter: Meter | None = None) -> None:
        self.meter = meter or Meter()
        self.claims: dict[str, dict[str, Any]] = {}
        self.pendings: dict[str, set[str]] = {}

    def claim(self, key: str, job: dict[str, Any], redrive: int, row: dict[str, Any] | None) -> None:
        self.meter.add("dynamodb.PutItem")
        self.claims[key] = {"job": json.loads(json.dumps(job)), "redrive": redrive,
                            **({"row": json.loads(json.dumps(row))} if row is not None else {})}

    def claimant(self, key: str) -> dict[str, Any] | None:
        self.meter.add("dynamodb.GetItem")
        found = self.claims.get(key)
        return copy.deepcopy(found) if found else None

    def add_pending(self, key: str, job_id: str) -> None:
        self.meter.add("dynamodb.UpdateItem")
        self.pendings.setdefault(key, set()).add(job_id)

    def pending(self, key: str) -> set[str]:
        self.meter.add("dynamodb.GetItem")
        return set(self.pendings.get(key, set()))


class MemoryLedger:
    """i2v.aws.batches.DynamoLedger in a dict."""

    def __init__(self, meter: Meter | None = None) -> None:
        self.meter = meter or Meter()
        self.ledgers: dict[str, dict[str, Any]] = {}

    def open(self, batch_id: str, *, total: int, source: Mapping[str, Any], summary_key: str,
             uploaded_at: str) -> int:
        self.meter.add("dynamodb.PutItem")
        if batch_id in self.ledgers:
            self.meter.add("dynamodb.GetItem")
            return int(self.ledgers[batch_id]["fanned"])
        self.ledgers[batch_id] = {"batch_id": batch_id, "total": total, "ended": 0, "succeeded": 0, "failed": 0,
                                  "cost_usd": 0.0, "codes": {}, "failures": [], "source": dict(source),
                                  "summary_key": summary_key, "uploaded_at": uploaded_at, "fanned": 0}
        return 0

    def fanned_out(self, batch_id: str, rows: int) -> None:
        self.meter.add("dynamodb.UpdateItem")
        ledger = self.ledgers[batch_id]
        ledger["fanned"] = max(int(ledger["fanned"]), rows)

    def record(self, end: Any) -> dict[str, Any] | None:
        from i2v.batch import MAX_LISTED_FAILURES

        ledger = self.ledgers[end.batch_id]
        if not end.succeeded:
            self.meter.add("dynamodb.UpdateItem")
            if len(ledger["failures"]) < MAX_LISTED_FAILURES:
                ledger["failures"].append({"row": end.row, "job_id": end.job_id, "code": end.code,
                                           "message": end.message})
        self.meter.add("dynamodb.UpdateItem")
        ledger["ended"] += 1
        ledger["succeeded" if end.succeeded else "failed"] += 1
        ledger["cost_usd"] += end.cost_usd
        if not end.succeeded and end.code:
            ledger["codes"][end.code] = ledger["codes"].get(end.code, 0) + 1
        if ledger["ended"] < ledger["total"]:
            return None
        self.meter.add("dynamodb.UpdateItem")
        if "completed" in ledger:
            return None
        ledger["completed"] = end.job_id
        return copy.deepcopy(ledger)


class MemoryRows:
    """The upload queue as a batch file's chunks of rows are put back on it."""

    def __init__(self, meter: Meter | None = None) -> None:
        self.meter = meter or Meter()
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.meter.add("sqs.SendMessage")
        self.sent.append(json.loads(json.dumps(message)))


class MemoryContents:
    """i2v.aws.contents.DynamoContents in a dict."""

    def __init__(self, meter: Meter | None = None) -> None:
        from i2v.contents import Origin

        self.meter = meter or Meter()
        self.items: dict[str, Origin] = {}
        self._origin = Origin

    def find(self, content_key: str) -> Any:
        self.meter.add("dynamodb.GetItem")
        return self.items.get(content_key)

    def produce(self, content_key: str, job_id: str, until: float, now: float) -> bool:
        from i2v.contents import PENDING

        self.meter.add("dynamodb.UpdateItem")
        found = self.items.get(content_key)
        if found is None or found.job_id == job_id or (found.state == PENDING and found.until <= now):
            self.items[content_key] = self._origin(content_key, job_id, PENDING, until)
            return True
        return False

    def done(self, origin: Any) -> bool:
        from i2v.contents import DONE

        self.meter.add("dynamodb.UpdateItem")
        found = self.items.get(origin.content_key)
        if found is None or found.job_id != origin.job_id:
            return False
        self.items[origin.content_key] = self._origin(**{**origin.to_dict(), "state": DONE, "until": found.until})
        return True

    def release(self, content_key: str, job_id: str) -> None:
        from i2v.contents import PENDING

        self.meter.add("dynamodb.DeleteItem")
        found = self.items.get(content_key)
        if found is not None and found.job_id == job_id and found.state == PENDING:
            del self.items[content_key]

    def forget(self, content_key: str, job_id: str) -> None:
        from i2v.contents import DONE

        self.meter.add("dynamodb.DeleteItem")
        found = self.items.get(content_key)
        if found is not None and found.job_id == job_id and found.state == DONE:
            del self.items[content_key]


class MemorySpend:
    """i2v.aws.spend.DynamoSpend in a dict (a reservation is one transaction, all or nothing)."""

    def __init__(self, meter: Meter | None = None) -> None:
        self.meter = meter or Meter()
        self.usd: dict[str, float] = {}

    def reserve(self, usd: float, periods: Any, budget: Any) -> str | None:
        for name, limit in (("day", budget.daily_usd), ("month", budget.monthly_usd)):
            if limit is not None and usd > limit:
                return name
        self.meter.add("dynamodb.TransactWriteItems")
        keys = {"day": f"day#{periods.day}", "month": f"month#{periods.month}"}
        for name, limit in (("day", budget.daily_usd), ("month", budget.monthly_usd)):
            if limit is not None and self.usd.get(keys[name], 0.0) > limit - usd + 1e-9:
                return name
        for key in keys.values():
            self.usd[key] = round(self.usd.get(key, 0.0) + usd, 6)
        return None

    def refund(self, usd: float, periods: Any) -> None:
        for key in (f"day#{periods.day}", f"month#{periods.month}"):
            self.meter.add("dynamodb.UpdateItem")
            self.usd[key] = round(self.usd.get(key, 0.0) - usd, 6)

    def totals(self, periods: Any) -> tuple[float, float]:
        self.meter.add("dynamodb.GetItem", 2)
        return self.usd.get(f"day#{periods.day}", 0.0), self.usd.get(f"month#{periods.month}", 0.0)


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
    """i2v.aws.notifier.Notifier: the EventBridge event first, then the SNS message, in that order."""

    def __init__(self, meter: Meter | None = None, event_bus: str = "default") -> None:
        self.meter = meter or Meter()
        self.event_bus = event_bus
        self.published: list[dict[str, Any]] = []  # the SNS messages
        self.events: list[dict[str, Any]] = []  # the PutEvents entries, their Detail parsed
        self.fail_next: Exception | None = None  # the next SNS publish raises it (after its event was put)
        self.fail_event_next: Exception | None = None  # the next PutEvents raises it (nothing is sent)

    def publish(self, notification: dict[str, Any]) -> str:
        self.put_event(notification)
        self.meter.add("sns.Publish")
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.published.append(json.loads(json.dumps(notification)))
        return f"msg-{len(self.published)}"

    def put_event(self, document: dict[str, Any]) -> str:
        from i2v.aws.notifier import event_entry  # here: the fakes load without boto3 until they publish

        entry = event_entry(document, self.event_bus)  # the real entry: its detail type, its size checked
        self.meter.add("events.PutEvents")
        if self.fail_event_next is not None:
            exc, self.fail_event_next = self.fail_event_next, None
            raise exc
        self.events.append({**entry, "Detail": json.loads(entry["Detail"])})
        return f"event-{len(self.events)}"


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
