"""S3 adapter: the ObjectStore job building reads, presigned URLs, and the output writes.

Reads of a pinned object ask for its version id, or send ``If-Match`` with its ETag where the
bucket keeps no versions: a job never reads bytes that were uploaded after it was created. Writes
answer the version id they made (None where the bucket keeps no versions), so a notification can
name exactly the bytes its job wrote.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from i2v.aws.clients import client
from i2v.contracts.errors import ObjectChanged
from i2v.contracts.job import Pin
from i2v.jobs.build import ObjectHead
from i2v.video_transfer import Readable

# Flat memory while streaming a video whatever its size: parts of 8 MiB, two in flight, and at most
# two parts buffered (s3transfer's default of 10 let the peak grow with the size; see make bench).
STREAM_TRANSFER = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024,
                                 max_concurrency=2, max_io_queue=2, use_threads=True)
STREAM_TRANSFER.max_in_memory_upload_chunks = 2
S3_COPY_MAX_BYTES = 5 * 1024**3  # one CopyObject; larger objects are copied in parts


class _VersionCatcher:
    """The version id S3 gives each managed upload or copy, which boto3's transfer manager does not return.

    Each such write carries a unique token in its user metadata (``x-amz-meta-i2v-write``); botocore's
    events see the token in the request (PutObject, CopyObject, CreateMultipartUpload) and the version id
    in the reply (of the same request, or of the CompleteMultipartUpload of that upload id).
    """

    META = "i2v-write"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: dict[str, str] = {}  # multipart upload id -> token
        self._versions: dict[str, str | None] = {}  # token -> version id

    def attach(self, s3: Any) -> None:
        events = s3.meta.events
        for op in ("PutObject", "CopyObject", "CreateMultipartUpload", "CompleteMultipartUpload"):
            events.register(f"before-parameter-build.s3.{op}", self._request, unique_id=f"i2v-version-req-{op}")
            events.register(f"after-call.s3.{op}", self._reply, unique_id=f"i2v-version-reply-{op}")

    def _request(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        token = (params.get("Metadata") or {}).get(self.META)
        if token is None and params.get("UploadId"):
            with self._lock:
                token = self._uploads.pop(str(params["UploadId"]), None)
        if token is not None:
            context["i2v_write"] = token

    def _reply(self, parsed: dict[str, Any], context: dict[str, Any], model: Any, **_: Any) -> None:
        token = context.get("i2v_write")
        if token is None or "Error" in parsed:
            return
        with self._lock:
            if model.name == "CreateMultipartUpload":
                self._uploads[str(parsed.get("UploadId"))] = token
            else:
                version = parsed.get("VersionId")
                self._versions[token] = None if version in (None, "null") else str(version)

    def token(self) -> str:
        return uuid.uuid4().hex

    def version(self, token: str) -> str | None:
        with self._lock:
            return self._versions.pop(token, None)


_VERSIONS = _VersionCatcher()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


def _missing(exc: ClientError) -> bool:
    return _code(exc) in ("404", "NoSuchKey", "NotFound", "NoSuchVersion")


def _changed(exc: ClientError) -> bool:
    return _code(exc) in ("412", "PreconditionFailed")


def _pin(pin: Pin | None) -> dict[str, str]:
    if pin is None:
        return {}
    if pin.version_id:
        return {"VersionId": pin.version_id}
    if pin.etag:
        return {"IfMatch": f'"{pin.etag}"'}
    return {}


class S3Bucket:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.s3 = client("s3")
        _VERSIONS.attach(self.s3)

    def _changed_error(self, key: str, pin: Pin | None) -> ObjectChanged:
        return ObjectChanged(f"{key} was replaced after this job's upload (it asked for "
                             f"{'version ' + str(pin.version_id) if pin and pin.version_id else 'ETag ' + str(pin and pin.etag)}); "
                             "the newer upload is a job of its own")

    def head(self, key: str, pin: Pin | None = None) -> ObjectHead | None:
        try:
            reply = self.s3.head_object(Bucket=self.bucket, Key=key, **_pin(pin))
        except ClientError as exc:
            if _changed(exc):
                raise self._changed_error(key, pin) from None
            if _missing(exc) or _code(exc) == "400":
                return None
            raise
        return ObjectHead(size=reply["ContentLength"], etag=(reply.get("ETag") or "").strip('"') or None,
                          version_id=reply.get("VersionId"), metadata=reply.get("Metadata") or {},
                          content_type=reply.get("ContentType"))

    def _get(self, key: str, byte_range: str, pin: Pin | None) -> bytes:
        try:
            reply = self.s3.get_object(Bucket=self.bucket, Key=key, Range=byte_range, **_pin(pin))
        except ClientError as exc:
            if _changed(exc):
                raise self._changed_error(key, pin) from None
            if _code(exc) in ("InvalidRange", "416"):  # a range past the end of a short or empty object
                return b""
            raise
        return bytes(reply["Body"].read())

    def read_range(self, key: str, start: int, end: int, pin: Pin | None = None) -> bytes:
        if end < start:
            return b""
        return self._get(key, f"bytes={start}-{end}", pin)

    def read_all(self, key: str, max_bytes: int, pin: Pin | None = None) -> bytes:
        return self._get(key, f"bytes=0-{max_bytes - 1}", pin)

    def digest(self, key: str, pin: Pin | None = None) -> str:
        try:
            reply = self.s3.get_object(Bucket=self.bucket, Key=key, **_pin(pin))
        except ClientError as exc:
            if _changed(exc):
                raise self._changed_error(key, pin) from None
            raise
        sha = hashlib.sha256()
        for chunk in reply["Body"].iter_chunks(1024 * 1024):
            sha.update(chunk)
        return sha.hexdigest()

    def presign_get(self, key: str, expires_in: int, version_id: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        return str(self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in))

    def put_json(self, key: str, document: dict[str, Any]) -> str | None:
        """Write a JSON document; the version id written (None where the bucket keeps no versions)."""
        reply = self.s3.put_object(Bucket=self.bucket, Key=key, ContentType="application/json",
                                   Body=json.dumps(document, ensure_ascii=False, indent=2).encode())
        return _version(reply.get("VersionId"))

    def upload_stream(self, key: str, stream: Readable, content_type: str = "video/mp4") -> str | None:
        """Stream into the key; the object appears only when complete (multipart aborted on error).

        Returns the version id written (None where the bucket keeps no versions).
        """
        token = _VERSIONS.token()
        self.s3.upload_fileobj(stream, self.bucket, key, Config=STREAM_TRANSFER,
                               ExtraArgs={"ContentType": content_type, "Metadata": {_VersionCatcher.META: token}})
        return _VERSIONS.version(token)

    def copy_version(self, key: str, version_id: str, target: str) -> str | None:
        """Copy one version of an object to another key (server side); the version id written."""
        token = _VERSIONS.token()
        source = {"Bucket": self.bucket, "Key": key, "VersionId": version_id}
        head = self.s3.head_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        extra = {"ContentType": head.get("ContentType") or "application/octet-stream",
                 "Metadata": {_VersionCatcher.META: token}}
        if int(head.get("ContentLength") or 0) <= S3_COPY_MAX_BYTES:
            reply = self.s3.copy_object(Bucket=self.bucket, Key=target, CopySource=source,
                                        MetadataDirective="REPLACE", **extra)
            _VERSIONS.version(token)
            return _version(reply.get("VersionId"))
        self.s3.copy(source, self.bucket, target, ExtraArgs=extra, Config=STREAM_TRANSFER)
        return _VERSIONS.version(token)

    def delete_version(self, key: str, version_id: str) -> None:
        """Remove one version of an object: the key's latest becomes whichever version is then newest."""
        self.s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)


def _version(value: Any) -> str | None:
    return None if value in (None, "", "null") else str(value)
