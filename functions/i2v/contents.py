"""Pay once per content: which job produced the video of a content key, and whether it is done.

A content key names the same image bytes, end-frame bytes and request (i2v.contracts.job.content_key).
The first job of a key becomes its *producer* (a lease, so a crashed producer's claim runs out); jobs
of the same key that come while it works wait their turn in the backlog, and once its video is stored
they copy it instead of paying again. If that video is gone, the next job of the key produces again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

PENDING = "PENDING"
DONE = "DONE"


@dataclass(frozen=True)
class Origin:
    """A content key's producer, and its video once stored (a version of an object)."""

    content_key: str
    job_id: str
    state: str
    until: float = 0.0  # a PENDING producer's lease
    bucket: str | None = None
    key: str | None = None
    version_id: str | None = None
    size_bytes: int | None = None
    price_usd: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"content_key": self.content_key, "job_id": self.job_id, "state": self.state, "until": self.until,
                "bucket": self.bucket, "key": self.key, "version_id": self.version_id,
                "size_bytes": self.size_bytes, "price_usd": self.price_usd}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Origin:
        return cls(content_key=str(data["content_key"]), job_id=str(data["job_id"]), state=str(data["state"]),
                   until=float(data.get("until") or 0.0), bucket=data.get("bucket"), key=data.get("key"),
                   version_id=data.get("version_id"), size_bytes=data.get("size_bytes"),
                   price_usd=data.get("price_usd"))


class Contents(Protocol):
    def find(self, content_key: str) -> Origin | None: ...

    def produce(self, content_key: str, job_id: str, until: float, now: float) -> bool:
        """Become the key's producer: it has none, or its producer's lease ended before ``now``."""
        ...

    def done(self, origin: Origin) -> bool:
        """The producer stored its video (only the producer of record may say so)."""
        ...

    def release(self, content_key: str, job_id: str) -> None:
        """The producer failed: the next job of the key produces."""
        ...

    def forget(self, content_key: str, job_id: str) -> None:
        """The stored video is gone: the key has no video any more."""
        ...
