"""The job as it travels from the submit function through the workflow to the store function."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Source:
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None

    def to_dict(self) -> dict:
        out = {"bucket": self.bucket, "key": self.key}
        if self.version_id:
            out["version_id"] = self.version_id
        if self.etag:
            out["etag"] = self.etag
        return out


@dataclass
class Job:
    job_id: str
    kind: str  # "image" | "job_file"
    source: Source
    video_key: str
    manifest_key: str
    image_key: str | None = None  # the start frame (the source itself for image jobs)
    request: dict | None = None  # canonical parameters actually used, once known
    uploaded_at: str | None = None
    timings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["source"] = self.source.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Job:
        data = dict(data)
        data["source"] = Source(**data["source"])
        return cls(**data)
