"""Map local files given to `i2v local` to the uploads they become: keys, metadata, job files."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from i2v import constants as c
from i2v.jobs.params import encode_metadata_value

FLAG_METADATA = {"prompt": "prompt", "negative_prompt": "negative-prompt", "mode": "mode", "duration": "duration",
                 "guidance_scale": "guidance-scale"}
FRAMES_FOLDER = "_frames"  # names starting with "_" never start jobs of their own


class UsageError(ValueError):
    """Bad command-line input: the message says what was wrong and what was expected."""


@dataclass
class Upload:
    key: str
    path: Path
    metadata: dict = field(default_factory=dict)
    is_job: bool = True


def _relative_key(path: Path) -> str:
    """Keep a relative path's folders (so outputs mirror them), else use the file name."""
    if not path.is_absolute() and ".." not in path.parts:
        return PurePosixPath(*path.parts).as_posix()
    return path.name


def plan(paths: list[Path], params: dict, end_image: Path | None, uploads_prefix: str = c.DEFAULT_UPLOADS_PREFIX
         ) -> list[Upload]:
    """Uploads for the given images or job files, with the command-line parameters as metadata."""
    uploads: list[Upload] = []
    seen: set[str] = set()

    def add(upload: Upload) -> None:
        if upload.key in seen:
            if upload.is_job:
                raise UsageError(f"two inputs map to the same upload key {upload.key!r}; expected distinct paths")
            return
        seen.add(upload.key)
        uploads.append(upload)

    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path} does not exist or is not a file; expected a JPEG/PNG image or a .json job file")
        key = uploads_prefix + _relative_key(path)
        if path.suffix.lower() == c.JOB_FILE_SUFFIX:
            if params or end_image:
                raise UsageError(f"{path} is a job file: put parameters in it, not on the command line")
            for ref_key, ref_path in _job_file_assets(path, key):
                add(Upload(ref_key, ref_path, is_job=False))
            add(Upload(key, path))
            continue
        if path.suffix.lower() not in c.IMAGE_SUFFIXES:
            raise UsageError(f"{path} has the suffix {path.suffix or '(none)'}; expected .jpg, .jpeg, .png or .json")
        metadata = {FLAG_METADATA[k]: encode_metadata_value(str(v)) for k, v in params.items() if v is not None}
        if end_image is not None:
            if not end_image.is_file():
                raise UsageError(f"--end-image {end_image} does not exist; expected a JPEG or PNG file")
            end_key = posixpath.join(posixpath.dirname(key), FRAMES_FOLDER, end_image.name)
            add(Upload(end_key, end_image, is_job=False))
            metadata["end-image"] = encode_metadata_value(f"{FRAMES_FOLDER}/{end_image.name}")
        add(Upload(key, path, metadata))
    # assets first, so a job never starts before the files it names exist
    return sorted(uploads, key=lambda u: u.is_job)


def _job_file_assets(path: Path, key: str) -> list[tuple[str, Path]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []  # the pipeline itself reports the bad job file, as it would in AWS
    if not isinstance(doc, dict):
        return []
    assets = []
    for field_name in ("image", "end_image"):
        ref = doc.get(field_name)
        if isinstance(ref, str) and ref and not ref.startswith("/"):
            local = (path.parent / ref)
            if local.is_file():
                assets.append((posixpath.normpath(posixpath.join(posixpath.dirname(key), ref)), local))
    return assets
