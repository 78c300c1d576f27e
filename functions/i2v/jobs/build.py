"""Turn an uploaded object into a job: identity first (so even a bad job gets its notification),
then parameters and validation, reading only what is needed from the bucket."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from i2v.errors import InvalidJobFile, InvalidParameters, JobError, MissingImage
from i2v.jobs import keys
from i2v.jobs.image_header import ImageInfo, inspect_image
from i2v.jobs.params import (
    DEFAULTS_FILE_KEYS,
    JOB_FILE_KEYS,
    JobParams,
    canonical_request,
    from_metadata,
    merge_layers,
    parse_json_object,
)
from i2v.jobs.validate import validate_image, validate_params
from i2v.models import Job, Source


@dataclass(frozen=True)
class ObjectHead:
    size: int
    etag: str | None
    version_id: str | None
    metadata: dict = field(default_factory=dict)
    content_type: str | None = None


class ObjectStore(Protocol):
    """What job building needs from the bucket (S3 in the Lambda, a dict in unit tests)."""

    def head(self, key: str, version_id: str | None = None) -> ObjectHead | None: ...

    def read_range(self, key: str, start: int, end: int, version_id: str | None = None) -> bytes: ...

    def read_all(self, key: str, max_bytes: int, version_id: str | None = None) -> bytes: ...


class DefaultsFileError(InvalidJobFile):
    code = "INVALID_DEFAULTS_FILE"


class EndImageMissing(MissingImage):
    code = "END_IMAGE_NOT_FOUND"


@dataclass
class PreparedJob:
    job: Job
    params: JobParams
    image: ImageInfo
    end_image: ImageInfo | None = None


def identify(bucket: str, key: str, version_id: str | None, etag: str | None,
             uploads_prefix: str, outputs_prefix: str) -> Job | keys.KeyDecision:
    """A Job with its stable id and output keys, or the decision that says why this is no job."""
    decision = keys.classify_key(key, uploads_prefix, outputs_prefix)
    if not decision.is_job:
        return decision
    video_key, manifest_key = keys.output_keys(key, uploads_prefix, outputs_prefix)
    return Job(
        job_id=keys.job_id_for(bucket, key, version_id or etag),
        kind=decision.kind,
        source=Source(bucket=bucket, key=key, version_id=version_id, etag=etag),
        video_key=video_key,
        manifest_key=manifest_key,
        image_key=key if decision.kind == keys.KIND_IMAGE else None,
    )


def _resolve_inside(job_file_key: str, reference: str, uploads_prefix: str) -> str:
    """A key named in a job file: relative to its folder and inside the uploads prefix."""
    try:
        key = keys.resolve_relative(job_file_key, reference)
    except ValueError as exc:
        raise InvalidJobFile(f"job file {job_file_key}: {exc}; expected a key under {uploads_prefix}") from None
    if not key.startswith(uploads_prefix):
        raise InvalidJobFile(f"job file {job_file_key} names {reference!r}, which resolves to {key!r}; "
                             f"expected a key under {uploads_prefix}")
    return key


def _load_defaults(store: ObjectStore, key: str, uploads_prefix: str) -> dict:
    for candidate in keys.defaults_candidates(key, uploads_prefix):
        head = store.head(candidate)
        if head is None:
            continue
        raw = store.read_all(candidate, 64 * 1024 + 1)
        return parse_json_object(raw, f"defaults file {candidate}", allowed=DEFAULTS_FILE_KEYS,
                                 error=DefaultsFileError)
    return {}


def _inspect(store: ObjectStore, key: str, what: str, version_id: str | None = None,
             missing: type[JobError] = MissingImage, head: ObjectHead | None = None) -> ImageInfo:
    """Identify and check an image; ``head`` saves a second HEAD when the caller already has it."""
    head = head or store.head(key, version_id)
    if head is None:
        raise missing(f"the {what} {key} does not exist in the bucket; expected a JPEG or PNG object at that key")
    info = inspect_image(lambda start, end: store.read_range(key, start, end, version_id), head.size)
    validate_image(info, what)
    return info


def prepare(job: Job, store: ObjectStore, uploads_prefix: str, stack_defaults: dict,
            metadata: dict | None = None) -> PreparedJob:
    """Gather parameters by precedence, validate them and the image bytes. Raises JobError.

    On error ``job.request`` holds what was gathered so far, for the failure notification.
    """
    src = job.source
    source_head = None
    if job.kind == keys.KIND_JOB_FILE:
        raw = store.read_all(src.key, 64 * 1024 + 1, src.version_id)
        doc = parse_json_object(raw, f"job file {src.key}", allowed=JOB_FILE_KEYS)
        image_ref = doc.pop("image", None)
        if not isinstance(image_ref, str) or not image_ref.strip():
            raise InvalidJobFile(f"job file {src.key} has no \"image\"; expected the key of a JPEG or PNG "
                                 "relative to the job file's folder")
        job.image_key = _resolve_inside(src.key, image_ref, uploads_prefix)
        if isinstance(doc.get("end_image"), str) and doc["end_image"].strip():
            doc["end_image"] = _resolve_inside(src.key, doc["end_image"], uploads_prefix)
        own = doc
    else:
        if metadata is None:
            source_head = store.head(src.key, src.version_id)
            if source_head is None:
                raise MissingImage(f"the image {src.key} no longer exists; expected the uploaded object")
            metadata = source_head.metadata
        own = from_metadata(metadata)
        if isinstance(own.get("end_image"), str) and own["end_image"].strip():
            try:
                own["end_image"] = _resolve_inside(src.key, own["end_image"], uploads_prefix)
            except InvalidJobFile as exc:
                raise InvalidParameters(f"end-image metadata: {exc.message}", code="INVALID_END_IMAGE") from None
    folder_defaults = _load_defaults(store, src.key, uploads_prefix)
    merged = merge_layers(own, folder_defaults, stack_defaults)
    job.request = {k: merged.get(k) for k in ("mode", "prompt", "negative_prompt", "duration",
                                              "guidance_scale")} | {"end_image_key": merged.get("end_image")}
    params = validate_params(merged)
    job.request = canonical_request(params)
    image_version = src.version_id if job.image_key == src.key else None
    image = _inspect(store, job.image_key, "image", image_version,
                     head=source_head if job.image_key == src.key else None)
    end_image = None
    if params.end_image:
        end_image = _inspect(store, params.end_image, "end image", missing=EndImageMissing)
    return PreparedJob(job=job, params=params, image=image, end_image=end_image)
