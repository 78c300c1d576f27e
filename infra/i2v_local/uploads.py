"""Map local files given to `i2v local` to the uploads they become: keys, metadata, job files.

Every problem with the inputs is collected and reported at once (UsageError.problems), before
anything starts; so are outputs that would land on an input or on a file that is not ours.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from i2v import constants as c
from i2v.jobs.keys import classify_key, output_keys
from i2v.jobs.params import encode_metadata_value

FLAG_METADATA = {"prompt": "prompt", "negative_prompt": "negative-prompt", "mode": "mode", "duration": "duration",
                 "guidance_scale": "guidance-scale"}
FRAMES_FOLDER = "_frames"  # names starting with "_" never start jobs of their own
METADATA_MAX_BYTES = 2048  # S3's limit on an object's user metadata
MANIFEST_SCHEMA = "i2v.notification/v1"


class UsageError(ValueError):
    """Bad command-line input: each problem says what was wrong and what was expected."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


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


def expand(paths: list[Path], uploads_prefix: str = c.DEFAULT_UPLOADS_PREFIX, skip: list[Path] = ()
           ) -> tuple[list[tuple[Path, str]], list[str]]:
    """(file, upload key) for each input, folders expanded; and the problems found.

    A folder brings, recursively and in a stable order, what the pipeline would take from the same
    folder uploaded to S3: its images and job files (names starting with `_` are not jobs), and the
    `_defaults.json` files that set their defaults. Hidden folders and the `skip` folders (the run's
    own output folder) are left out, and so are earlier outputs (manifests are not job files).
    """
    found: list[tuple[Path, str]] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():  # an output folder inside it is left out (not one it is in)
            skipped = [s.resolve() for s in skip if s.resolve() != path.resolve()
                       and s.resolve().is_relative_to(path.resolve())]
            files = _folder_files(path, uploads_prefix, skipped)
            if all(file.name == c.DEFAULTS_FILE_NAME for file, _key in files):
                problems.append(f"{path} is a folder with no .jpg, .jpeg, .png image or .json job file in it "
                                "(names starting with '_' are not jobs); expected a folder of images, or the "
                                "images themselves")
            found.extend(files)
        elif not path.exists():
            problems.append(f"{path} does not exist; expected a JPEG/PNG image, a .json job file or a folder "
                            "of them")
        elif not path.is_file():
            problems.append(f"{path} is not a regular file; expected a JPEG/PNG image or a .json job file")
        else:
            found.append((path, uploads_prefix + _relative_key(path)))
    return found, problems


def _folder_files(folder: Path, uploads_prefix: str, skipped: list[Path]) -> list[tuple[Path, str]]:
    base = uploads_prefix + _folder_key(folder)
    files = []
    for path in sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix()):
        relative = path.relative_to(folder)
        if (not path.is_file() or any(part.startswith(".") for part in relative.parts)
                or any(path.resolve().is_relative_to(s) for s in skipped)):
            continue
        key = base + relative.as_posix()
        if path.name == c.DEFAULTS_FILE_NAME or (classify_key(key, uploads_prefix, "").is_job
                                                 and not _is_manifest(path)):
            files.append((path, key))
    return files


def _folder_key(folder: Path) -> str:
    """The folder's part of its files' keys: its relative path, else its name; none for the current folder."""
    if folder.resolve() == Path.cwd().resolve():
        return ""
    if not folder.is_absolute() and ".." not in folder.parts:
        return PurePosixPath(*folder.parts).as_posix() + "/"
    return folder.resolve().name + "/"


def plan(paths: list[Path], params: dict, end_image: Path | None, uploads_prefix: str = c.DEFAULT_UPLOADS_PREFIX,
         out_dir: Path | None = None) -> list[Upload]:
    """Uploads for the given images, job files or folders, with the command-line parameters as metadata.

    Raises UsageError with every problem found.
    """
    uploads: list[Upload] = []
    seen: dict[str, Path] = {}
    inputs, problems = expand(paths, uploads_prefix, skip=[out_dir] if out_dir else [])

    def add(upload: Upload) -> None:
        if upload.key in seen:
            if upload.is_job and seen[upload.key].resolve() != upload.path.resolve():
                problems.append(f"{seen[upload.key]} and {upload.path} map to the same upload key {upload.key!r}; "
                                "expected distinct paths (give them from a common folder)")
            return
        seen[upload.key] = upload.path
        uploads.append(upload)

    if end_image is not None and not end_image.is_file():
        problems.append(f"`--end-image {end_image}` does not exist; expected a JPEG or PNG file")
        end_image = None
    metadata = {FLAG_METADATA[k]: encode_metadata_value(str(v)) for k, v in params.items() if v is not None}
    for path, key in inputs:
        if end_image is not None and path.resolve() == end_image.resolve():
            continue  # the end frame inside a folder given as well is not a job of its own
        if path.name == c.DEFAULTS_FILE_NAME:
            add(Upload(key, path, is_job=False))
            continue
        if not classify_key(key, uploads_prefix, "").is_job:
            problems.append(_not_a_job(path, key[len(uploads_prefix):]))
            continue
        if path.suffix.lower() in (c.JOB_FILE_SUFFIX, *c.BATCH_SUFFIXES):
            if params or end_image:
                what = "a job file" if path.suffix.lower() == c.JOB_FILE_SUFFIX else "a batch file"
                problems.append(f"{path} is {what}: put parameters in it, not on the command line "
                                "(flags apply to images only; give the images alone to use flags)")
                continue
            assets = _job_file_assets(path, key) if path.suffix.lower() == c.JOB_FILE_SUFFIX \
                else _batch_assets(path, key)
            for ref_key, ref_path in assets:
                add(Upload(ref_key, ref_path, is_job=False))
            add(Upload(key, path))
            continue
        job_metadata = dict(metadata)
        if end_image is not None:
            end_key = posixpath.join(posixpath.dirname(key), FRAMES_FOLDER, end_image.name)
            add(Upload(end_key, end_image, is_job=False))
            job_metadata["end-image"] = encode_metadata_value(f"{FRAMES_FOLDER}/{end_image.name}")
        size = sum(len(k) + len(v) for k, v in job_metadata.items())
        if size > METADATA_MAX_BYTES:
            problems.append(f"the flags make {size} bytes of S3 metadata for {path}; expected at most "
                            f"{METADATA_MAX_BYTES}: put a long prompt in a .json job file")
            continue
        add(Upload(key, path, job_metadata))
    if problems:
        raise UsageError(list(dict.fromkeys(problems)))
    # `_defaults.json` first (jobs read it when they arrive), then job files: each claims the images it
    # names before they arrive, so an image uploaded only because a job file names it is never a job of
    # its own (the job file waits for it); then those images, then the images that are jobs.
    return sorted(uploads, key=_upload_rank)


def _upload_rank(upload: Upload) -> int:
    names_images = upload.key.lower().endswith((c.JOB_FILE_SUFFIX, *c.BATCH_SUFFIXES))
    if names_images:
        return 1 if upload.is_job else 0
    return 3 if upload.is_job else 2


def _not_a_job(path: Path, relative: str) -> str:
    if any(part.startswith("_") for part in relative.split("/")):
        return (f"{path}: names starting with '_' are never jobs in the pipeline (they hold defaults and the "
                "frames job files name); rename it, or name it in a .json job file")
    return f"{path} has the suffix {path.suffix or '(none)'}; expected .jpg, .jpeg, .png, .json or a folder"


def output_clashes(uploads: list[Upload], out_dir: Path, uploads_prefix: str = c.DEFAULT_UPLOADS_PREFIX,
                   outputs_prefix: str = c.DEFAULT_OUTPUTS_PREFIX) -> list[str]:
    """Outputs that would overwrite an input of this run, or a file that is not an earlier output."""
    inputs = {u.path.resolve(): u.path for u in uploads}
    problems = []
    for upload in uploads:
        if not upload.is_job:
            continue
        for kind, key in zip(("video", "manifest"), output_keys(upload.key, uploads_prefix, outputs_prefix),
                             strict=True):
            target = out_dir / key[len(outputs_prefix):]
            resolved = target.resolve()
            if resolved in inputs:
                problems.append(f"`--out {out_dir}` would write the {kind} of {upload.path} over the input "
                                f"{inputs[resolved]}; choose another folder, e.g. `--out i2v-output`")
            elif target.is_file() and not _is_ours(target):
                problems.append(f"`--out {out_dir}` would write the {kind} of {upload.path} over {target}, which "
                                "is not an earlier i2v output; choose another folder, e.g. `--out i2v-output`")
    return problems


def _is_ours(path: Path) -> bool:
    """An earlier run's output: an MP4, or a manifest."""
    return path.suffix.lower() == c.VIDEO_SUFFIX or _is_manifest(path)


def _is_manifest(path: Path) -> bool:
    """A notification document an earlier run wrote beside its video."""
    if path.suffix.lower() != c.MANIFEST_SUFFIX:
        return False
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("schema") == MANIFEST_SCHEMA
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def _job_file_assets(path: Path, key: str) -> list[tuple[str, Path]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []  # the pipeline itself reports the bad job file, as it would in AWS
    if not isinstance(doc, dict):
        return []
    return _named_files(doc, path, key)


def _batch_assets(path: Path, key: str) -> list[tuple[str, Path]]:
    """The images a batch file's rows name, read with the pipeline's own parser (bad rows name none)."""
    from i2v.contracts.errors import JobError
    from i2v.jobs.batch import parse_rows

    try:
        rows = parse_rows(path.read_bytes(), key)
    except (OSError, JobError):
        return []  # the pipeline itself reports the bad batch file, as it would in AWS
    found: dict[str, Path] = {}
    for row in rows:
        for asset_key, asset_path in _named_files(row.fields, path, key):
            found.setdefault(asset_key, asset_path)
    return list(found.items())


def _named_files(doc: dict, path: Path, key: str) -> list[tuple[str, Path]]:
    assets = []
    for field_name in ("image", "end_image"):
        ref = doc.get(field_name)
        if isinstance(ref, str) and ref and not ref.startswith("/"):
            local = (path.parent / ref)
            if local.is_file():
                assets.append((posixpath.normpath(posixpath.join(posixpath.dirname(key), ref)), local))
    return assets
