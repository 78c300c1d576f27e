"""The job: which object version it was made for, where its outputs go, what it asks for."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobKind(StrEnum):
    IMAGE = "image"  # an uploaded image is its own job
    JOB_FILE = "job_file"  # a .json job file names its image and parameters
    BATCH = "batch"  # a .csv or .jsonl batch file: not a job itself, one job per row
    BATCH_ROW = "batch_row"  # one row of a batch file


@dataclass(frozen=True)
class BatchRef:
    """The batch a row job belongs to."""

    batch_id: str
    key: str  # the batch file
    row: int  # 1-based, as a spreadsheet numbers data rows
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "key": self.key, "row": self.row, "total": self.total}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> BatchRef | None:
        if not data:
            return None
        return cls(batch_id=str(data["batch_id"]), key=str(data["key"]), row=int(data["row"]),
                   total=int(data["total"]))


@dataclass(frozen=True)
class Pin:
    """One version of an object: its version id where the bucket keeps versions, else its ETag.

    Reads of a pinned object ask for that version (or send ``If-Match``), so a job never reads
    bytes that were uploaded after it was created.
    """

    version_id: str | None = None
    etag: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("version_id", self.version_id), ("etag", self.etag)) if v}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Pin | None:
        if not data:
            return None
        return cls(version_id=data.get("version_id") or None, etag=data.get("etag") or None)


@dataclass(frozen=True)
class Source:
    """The object version a job was created for (version id where the bucket has one, else the ETag
    and the event's sequencer, which tells two uploads of the same bytes apart)."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None

    @property
    def pin(self) -> Pin:
        return Pin(version_id=self.version_id, etag=None if self.version_id else self.etag)

    def to_dict(self) -> dict[str, str]:
        out = {"bucket": self.bucket, "key": self.key}
        for name in ("version_id", "etag", "sequencer"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Source:
        return cls(bucket=str(data["bucket"]), key=str(data["key"]), version_id=data.get("version_id") or None,
                   etag=data.get("etag") or None, sequencer=data.get("sequencer") or None)


@dataclass
class Job:
    job_id: str
    kind: JobKind
    source: Source
    video_key: str
    manifest_key: str
    image_key: str | None = None  # the start frame (the source itself for image jobs)
    image_pin: Pin | None = None  # the start frame's version as validated (the provider gets that one)
    end_image_pin: Pin | None = None
    request: dict[str, Any] | None = None  # the parameters actually used, once known
    batch: BatchRef | None = None  # set for a row of a batch file
    content_key: str | None = None  # same images + same request = same video (None: reuse is off)
    price_usd: float | None = None  # what the provider charges for it, set when it is dispatched
    uploaded_at: str | None = None
    timings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "kind": self.kind.value, "source": self.source.to_dict(),
                "video_key": self.video_key, "manifest_key": self.manifest_key, "image_key": self.image_key,
                "image_pin": self.image_pin.to_dict() if self.image_pin else None,
                "end_image_pin": self.end_image_pin.to_dict() if self.end_image_pin else None,
                "request": self.request, "batch": self.batch.to_dict() if self.batch else None,
                "content_key": self.content_key, "price_usd": self.price_usd,
                "uploaded_at": self.uploaded_at, "timings": dict(self.timings)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        return cls(job_id=str(data["job_id"]), kind=JobKind(data["kind"]), source=Source.from_dict(data["source"]),
                   video_key=str(data["video_key"]), manifest_key=str(data["manifest_key"]),
                   image_key=data.get("image_key"), image_pin=Pin.from_dict(data.get("image_pin")),
                   end_image_pin=Pin.from_dict(data.get("end_image_pin")), request=data.get("request"),
                   batch=BatchRef.from_dict(data.get("batch")), content_key=data.get("content_key"),
                   price_usd=data.get("price_usd"),
                   uploaded_at=data.get("uploaded_at"), timings=dict(data.get("timings") or {}))


def content_key(image_sha256: str, end_image_sha256: str | None, request: Mapping[str, Any]) -> str:
    """The same image bytes (and end-frame bytes) with the same request make the same video."""
    basis = {"image": image_sha256, "end_image": end_image_sha256, "request": dict(request)}
    return hashlib.sha256(json.dumps(basis, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
