"""S3 adapter: the ObjectStore job building reads, presigned URLs, and the output writes."""

from __future__ import annotations

import json
from typing import BinaryIO

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from i2v.aws.clients import client
from i2v.jobs.build import ObjectHead

# Flat memory while streaming a video whatever its size: parts of 8 MiB, two in flight, and at most
# two parts buffered (s3transfer's default of 10 let the peak grow with the size; see make bench).
STREAM_TRANSFER = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024,
                                 max_concurrency=2, max_io_queue=2, use_threads=True)
STREAM_TRANSFER.max_in_memory_upload_chunks = 2


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "NoSuchVersion")


class S3Bucket:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.s3 = client("s3")

    def _version(self, version_id: str | None) -> dict:
        return {"VersionId": version_id} if version_id else {}

    def head(self, key: str, version_id: str | None = None) -> ObjectHead | None:
        try:
            reply = self.s3.head_object(Bucket=self.bucket, Key=key, **self._version(version_id))
        except ClientError as exc:
            if _missing(exc) or exc.response.get("Error", {}).get("Code") == "400":
                return None
            raise
        return ObjectHead(size=reply["ContentLength"], etag=(reply.get("ETag") or "").strip('"') or None,
                          version_id=reply.get("VersionId"), metadata=reply.get("Metadata") or {},
                          content_type=reply.get("ContentType"))

    def read_range(self, key: str, start: int, end: int, version_id: str | None = None) -> bytes:
        if end < start:
            return b""
        reply = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}",
                                   **self._version(version_id))
        return reply["Body"].read()

    def read_all(self, key: str, max_bytes: int, version_id: str | None = None) -> bytes:
        reply = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}",
                                   **self._version(version_id))
        return reply["Body"].read()

    def presign_get(self, key: str, expires_in: int, version_id: str | None = None) -> str:
        return self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key, **self._version(version_id)},
            ExpiresIn=expires_in)

    def put_json(self, key: str, document: dict) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, ContentType="application/json",
                           Body=json.dumps(document, ensure_ascii=False, indent=2).encode())

    def upload_stream(self, key: str, stream: BinaryIO, content_type: str = "video/mp4") -> None:
        """Stream into the key; the object appears only when complete (multipart aborted on error)."""
        self.s3.upload_fileobj(stream, self.bucket, key, ExtraArgs={"ContentType": content_type},
                               Config=STREAM_TRANSFER)
