"""Turn an uploaded object into a job: identity first (so even a bad job gets its notification),
then parameters and validation, reading only what is needed from the bucket, and only the object
version the job was created for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from i2v.contracts.errors import (
    DefaultsFileError,
    EndImageMissing,
    ErrorCode,
    InvalidJobFile,
    InvalidParameters,
    JobError,
    MissingImage,
)
from i2v.contracts.job import Job, JobKind, Pin, Source, content_key
from i2v.contracts.params import (
    DEFAULTS_FILE_KEYS,
    JOB_FILE_KEYS,
    JobParams,
    merge_layers,
    shown_request,
    validate_params,
)
from i2v.jobs import keys
from i2v.jobs.image_header import ImageInfo, inspect_image
from i2v.jobs.params import MAX_JOB_FILE_BYTES, from_metadata, parse_json_object
from i2v.jobs.validate import validate_image


@dataclass(frozen=True)
class ObjectHead:
    size: int
    etag: str | None
    version_id: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None

    @property
    def pin(self) -> Pin:
        return Pin(version_id=self.version_id, etag=None if self.version_id else self.etag)


class ObjectStore(Protocol):
    """What job building needs from the bucket (S3 in the Lambda, a dict in unit tests).

    With a ``pin``, reads ask for that version (or send ``If-Match`` with its ETag) and raise
    ObjectChanged when the object was replaced; ``head`` answers None for a missing object.
    """

    def head(self, key: str, pin: Pin | None = None) -> ObjectHead | None: ...

    def read_range(self, key: str, start: int, end: int, pin: Pin | None = None) -> bytes: ...

    def read_all(self, key: str, max_bytes: int, pin: Pin | None = None) -> bytes: ...

    def digest(self, key: str, pin: Pin | None = None) -> str:
        """SHA-256 of the object's bytes, read as a stream."""
        ...


@dataclass
class PreparedJob:
    job: Job
    params: JobParams
    image: ImageInfo
    end_image: ImageInfo | None = None


def identify(source: Source, uploads_prefix: str, outputs_prefix: str) -> Job | keys.KeyDecision:
    """A Job with its stable id and output keys, or the decision that says why this is no job."""
    decision = keys.classify_key(source.key, uploads_prefix, outputs_prefix)
    if decision.kind is None:
        return decision
    video_key, manifest_key = keys.output_keys(source.key, uploads_prefix, outputs_prefix)
    version = source.version_id or (f"{source.etag}@{source.sequencer}" if source.sequencer else source.etag)
    return Job(
        job_id=keys.job_id_for(source.bucket, source.key, version),
        kind=decision.kind,
        source=source,
        video_key=video_key,
        manifest_key=manifest_key,
        image_key=source.key if decision.kind == JobKind.IMAGE else None,
    )


def _resolve_inside(job_file_key: str, reference: str, uploads_prefix: str, what: str) -> str:
    """A key named in a job file or metadata: relative to its folder and inside the uploads prefix."""
    try:
        key = keys.resolve_relative(job_file_key, reference)
    except ValueError as exc:
        raise InvalidJobFile(f"{what}: {exc}; expected a key under {uploads_prefix}") from None
    if not key.startswith(uploads_prefix):
        raise InvalidJobFile(f"{what} names {reference!r}, which resolves to {key!r}; "
                             f"expected a key under {uploads_prefix}")
    return key


def _load_defaults(store: ObjectStore, key: str, uploads_prefix: str) -> dict[str, Any]:
    for candidate in keys.defaults_candidates(key, uploads_prefix):
        head = store.head(candidate)
        if head is None:
            continue
        raw = store.read_all(candidate, MAX_JOB_FILE_BYTES + 1, head.pin) if head.size else b""
        return parse_json_object(raw, f"defaults file {candidate}", allowed=DEFAULTS_FILE_KEYS,
                                 error=DefaultsFileError)
    return {}


def _inspect(store: ObjectStore, key: str, what: str, pin: Pin | None = None,
             missing: type[JobError] = MissingImage, head: ObjectHead | None = None) -> tuple[ImageInfo, Pin]:
    """Identify and check an image; ``head`` saves a second HEAD when the caller already has it.

    Returns the image's facts and the version that was checked (the provider gets exactly that one).
    """
    head = head or store.head(key, pin)
    if head is None:
        raise missing(f"the {what} {key} does not exist in the bucket; expected a JPEG or PNG object at that key")
    checked = pin or head.pin
    info = inspect_image(lambda start, end: store.read_range(key, start, end, checked), head.size)
    validate_image(info, what)
    return info, checked


def _job_file_layer(job: Job, store: ObjectStore, uploads_prefix: str) -> dict[str, Any]:
    src = job.source
    head = store.head(src.key, src.pin)
    if head is None:
        raise InvalidJobFile(f"the job file {src.key} no longer exists; expected the uploaded JSON object")
    raw = store.read_all(src.key, MAX_JOB_FILE_BYTES + 1, src.pin) if head.size else b""
    doc = parse_json_object(raw, f"job file {src.key}", allowed=JOB_FILE_KEYS)
    return resolve_inputs(job, doc, uploads_prefix, f"job file {src.key}")


def resolve_inputs(job: Job, doc: dict[str, Any], uploads_prefix: str, what: str) -> dict[str, Any]:
    """A job file's (or a batch row's) ``image`` and ``end_image``, relative to its folder: the start
    frame becomes the job's image key, the rest is its own parameter layer."""
    doc = dict(doc)
    image_ref = doc.pop("image", None)
    if not isinstance(image_ref, str) or not image_ref.strip():
        raise InvalidJobFile(f"{what} has no \"image\"; expected the key of a JPEG or PNG "
                             "relative to its folder")
    image_key = _resolve_inside(job.source.key, image_ref, uploads_prefix, what)
    keys.check_key(image_key, "image key")  # before it is on the job, which its failure notification carries
    job.image_key = image_key
    end_ref = doc.get("end_image")
    if isinstance(end_ref, str) and end_ref.strip():
        doc["end_image"] = _resolve_inside(job.source.key, end_ref, uploads_prefix, what)
    return doc


def _metadata_layer(job: Job, head: ObjectHead, uploads_prefix: str) -> dict[str, Any]:
    own = from_metadata(head.metadata)
    end_ref = own.get("end_image")
    if isinstance(end_ref, str) and end_ref.strip():
        try:
            own["end_image"] = _resolve_inside(job.source.key, end_ref, uploads_prefix, "the end-image metadata")
        except InvalidJobFile as exc:
            raise InvalidParameters(exc.message, code=ErrorCode.INVALID_END_IMAGE) from None
    return own


def prepare(job: Job, store: ObjectStore, uploads_prefix: str, stack_defaults: Mapping[str, Any],
            row: Mapping[str, Any] | None = None) -> PreparedJob:
    """Gather parameters by precedence, validate them and the image bytes. Raises JobError.

    ``row``: a batch row's fields (its own layer, like a job file's). On error ``job.request`` holds
    what was gathered so far, for the failure notification.
    """
    src = job.source
    keys.check_key(src.key)
    source_head = None
    if job.kind == JobKind.BATCH_ROW:
        number = job.batch.row if job.batch else 0
        own = resolve_inputs(job, dict(row or {}), uploads_prefix, f"row {number} of {src.key}")
    elif job.kind == JobKind.JOB_FILE:
        own = _job_file_layer(job, store, uploads_prefix)
    else:
        source_head = store.head(src.key, src.pin)
        if source_head is None:
            raise MissingImage(f"the image {src.key} no longer exists; expected the uploaded object")
        own = _metadata_layer(job, source_head, uploads_prefix)
    image_key = job.image_key or src.key
    keys.check_key(image_key, "image key")
    folder_defaults = _load_defaults(store, src.key, uploads_prefix)
    merged = merge_layers(own, folder_defaults, stack_defaults)
    job.request = shown_request(merged)
    params = validate_params(merged)
    if params.end_image:
        keys.check_key(params.end_image, "end image key")  # before it is in the request the notification shows
    job.request = params.request()
    own_source = image_key == src.key
    image, job.image_pin = _inspect(store, image_key, "image", src.pin if own_source else None,
                                    head=source_head if own_source else None)
    end_image = None
    if params.end_image:
        end_image, job.end_image_pin = _inspect(store, params.end_image, "end image", missing=EndImageMissing)
    if params.reuse:  # one GET each: the bytes decide whether an earlier video is this one
        end_sha = store.digest(params.end_image, job.end_image_pin) if params.end_image else None
        job.content_key = content_key(store.digest(image_key, job.image_pin), end_sha, params.content_request())
    return PreparedJob(job=job, params=params, image=image, end_image=end_image)
