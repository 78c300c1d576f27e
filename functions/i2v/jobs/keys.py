"""Which object keys are jobs, the stable job id, and where a job's outputs go."""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote_plus

from i2v import constants as c
from i2v.contracts.errors import InvalidKey
from i2v.contracts.job import JobKind

# Characters no key of a job may hold: a URL client (the provider's, fetching the presigned URL)
# could rewrite or refuse them, so the provider would fetch another object or none.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


@dataclass(frozen=True)
class KeyDecision:
    """Whether a key starts a job, and if not, why (logged for skipped objects)."""

    kind: JobKind | None
    reason: str = ""

    @property
    def is_job(self) -> bool:
        return self.kind is not None


def decode_event_key(raw: str) -> str:
    """S3 event notifications URL-encode object keys, with spaces as '+'."""
    return unquote_plus(raw)


def classify_key(key: str, uploads_prefix: str, outputs_prefix: str) -> KeyDecision:
    """Decide if an object key is a job. Never true for outputs, defaults files or `_` names.

    Anything whose file name or any folder (below the uploads prefix) starts with `_` is not a
    job by itself: `_defaults.json`, and folders such as `_frames/` for images that job files use.
    """
    if not _is_unicode(key):  # no S3 event carries one (keys are UTF-8); nothing could name it in a notification
        return KeyDecision(None, "not valid Unicode (a lone surrogate)")
    if outputs_prefix and key.startswith(outputs_prefix):
        return KeyDecision(None, "under the outputs prefix")
    if not key.startswith(uploads_prefix):
        return KeyDecision(None, f"outside the uploads prefix {uploads_prefix!r}")
    relative = key[len(uploads_prefix):]
    if not relative or relative.endswith("/"):
        return KeyDecision(None, "a folder marker")
    if any(part.startswith("_") for part in relative.split("/")):
        return KeyDecision(None, "a name starting with '_' (defaults file or job-file asset)")
    lower = relative.lower()
    if lower.endswith(c.IMAGE_SUFFIXES):
        return KeyDecision(JobKind.IMAGE)
    if lower.endswith(c.JOB_FILE_SUFFIX):
        return KeyDecision(JobKind.JOB_FILE)
    if lower.endswith(c.BATCH_SUFFIXES):
        return KeyDecision(JobKind.BATCH)
    return KeyDecision(None, "not a .jpg, .jpeg, .png, a .json job file or a .csv/.jsonl batch file")


def _is_unicode(key: str) -> bool:
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_key(key: str, what: str = "object key") -> None:
    """Refuse keys that do not mean one thing to every URL client: dot segments, empty segments,
    control characters or backslashes. Raises InvalidKey naming the problem."""
    segments = key.split("/")
    if any(s in (".", "..") for s in segments):
        raise InvalidKey(f"the {what} {key!r} has a '.' or '..' segment, which URL clients resolve to another "
                         "key; expected a plain path such as uploads/shoes/red.png")
    if any(s == "" for s in segments[:-1]) or key.startswith("/"):
        raise InvalidKey(f"the {what} {key!r} has an empty segment ('//'); expected a plain path such as "
                         "uploads/shoes/red.png")
    bad = _CONTROL.search(key)
    if bad:
        raise InvalidKey(f"the {what} {key!r} contains the character {bad.group()!r} (a control character or "
                         "backslash); expected printable characters and '/' between folders")
    if not _is_unicode(key):
        raise InvalidKey(f"the {what} is not valid Unicode; expected a UTF-8 key")


def job_id_for(bucket: str, key: str, version: str | None) -> str:
    """Stable id of one object version: the same upload always maps to the same job."""
    digest = hashlib.sha256(f"{bucket}\n{key}\n{version or ''}".encode()).hexdigest()
    return digest[:32]


def execution_name(job_id: str, redrive: int = 0) -> str:
    """Deterministic workflow name: a duplicate event can never start a second execution.

    An operator's deliberate retry (`i2v jobs retry`) bumps ``redrive`` and so gets a new name.
    """
    base = f"{c.EXECUTION_NAME_PREFIX}{job_id}"
    return base if redrive <= 0 else f"{base}-r{redrive}"


def output_keys(key: str, uploads_prefix: str, outputs_prefix: str) -> tuple[str, str]:
    """`uploads/a/b/cat.png` -> (`outputs/a/b/cat.mp4`, `outputs/a/b/cat.json`)."""
    relative = key[len(uploads_prefix):] if key.startswith(uploads_prefix) else key
    stem, _ext = posixpath.splitext(relative)
    return outputs_prefix + stem + c.VIDEO_SUFFIX, outputs_prefix + stem + c.MANIFEST_SUFFIX


def row_output_keys(batch_key: str, row: int, image_key: str, uploads_prefix: str,
                    outputs_prefix: str) -> tuple[str, str]:
    """Row 7 of `uploads/a/shoes.csv` naming `red.png` -> `outputs/a/shoes/00007-red.mp4` (and `.json`):
    one folder per batch file, rows numbered, so two rows naming the same image never collide."""
    folder, _ = posixpath.splitext(batch_key[len(uploads_prefix):] if batch_key.startswith(uploads_prefix)
                                   else batch_key)
    stem, _ext = posixpath.splitext(posixpath.basename(image_key))
    base = f"{outputs_prefix}{folder}/{row:05d}-{stem}"
    return base + c.VIDEO_SUFFIX, base + c.MANIFEST_SUFFIX


def summary_key(batch_key: str, uploads_prefix: str, outputs_prefix: str) -> str:
    """`uploads/a/shoes.csv` -> `outputs/a/shoes.summary.json`."""
    relative = batch_key[len(uploads_prefix):] if batch_key.startswith(uploads_prefix) else batch_key
    return outputs_prefix + posixpath.splitext(relative)[0] + c.SUMMARY_SUFFIX


def resolve_relative(job_file_key: str, reference: str) -> str:
    """A key named in a job file, relative to the job file's folder (`..` allowed, not past root)."""
    if reference.startswith("/"):  # from the bucket root
        joined = posixpath.normpath(reference.lstrip("/") or ".")
    else:
        folder = posixpath.dirname(job_file_key)
        joined = posixpath.normpath(posixpath.join(folder, reference)) if folder else posixpath.normpath(reference)
    if joined.startswith("../") or joined in ("..", "."):
        raise ValueError(f"{reference!r} points above the bucket root")
    return joined


def defaults_candidates(key: str, uploads_prefix: str) -> list[str]:
    """`_defaults.json` keys to look for, nearest folder first, up to the uploads prefix."""
    folder = posixpath.dirname(key)
    root = uploads_prefix.rstrip("/")
    candidates = []
    while True:
        candidates.append(f"{folder}/{c.DEFAULTS_FILE_NAME}" if folder else c.DEFAULTS_FILE_NAME)
        if folder == root or not folder or not folder.startswith(root):
            break
        folder = posixpath.dirname(folder)
    return candidates
