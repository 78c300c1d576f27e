"""Job parameters: where they come from and how the layers merge.

Highest first: the object's user metadata (or the job file itself), the nearest `_defaults.json`,
then the stack defaults. Every layer is parsed into canonical snake_case names before merging.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from email.header import Header, decode_header, make_header
from typing import Any

from i2v import constants as c
from i2v.errors import InvalidJobFile, InvalidParameters

PARAM_KEYS = ("mode", "prompt", "negative_prompt", "duration", "guidance_scale", "end_image")
METADATA_KEYS = {  # S3 user metadata names (x-amz-meta-*) -> canonical names
    "prompt": "prompt",
    "negative-prompt": "negative_prompt",
    "mode": "mode",
    "duration": "duration",
    "guidance-scale": "guidance_scale",
    "end-image": "end_image",
}
JOB_FILE_KEYS = frozenset(PARAM_KEYS) | {"image"}
DEFAULTS_FILE_KEYS = frozenset(PARAM_KEYS) - {"end_image"}
STACK_DEFAULTS = {
    "mode": c.DEFAULT_MODE,
    "prompt": c.DEFAULT_PROMPT,
    "duration": c.DEFAULT_DURATION,
    "guidance_scale": c.DEFAULT_GUIDANCE_SCALE,
}
MAX_JOB_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class JobParams:
    """The parameters actually used for one job (the notification's `request`, minus keys)."""

    mode: str
    prompt: str
    negative_prompt: str | None
    duration: Any
    guidance_scale: Any
    end_image: str | None  # object key, already resolved

    def to_dict(self) -> dict:
        return asdict(self)


def decode_metadata_value(value: str) -> str:
    """S3 returns non-ASCII metadata as RFC 2047 encoded-words (=?UTF-8?B?...?=); decode them."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeDecodeError):
        return value


def encode_metadata_value(value: str) -> str:
    """The inverse, for writers (the command line): ASCII stays as is."""
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(maxlinelen=100000)


def from_metadata(metadata: Mapping[str, str]) -> dict:
    """User metadata as canonical parameters; unrelated metadata keys are ignored."""
    out = {}
    for raw_key, value in metadata.items():
        name = METADATA_KEYS.get(raw_key.lower())
        if name is not None:
            out[name] = decode_metadata_value(value)
    return out


def parse_json_object(raw: bytes, what: str, *, allowed: frozenset[str], error=InvalidJobFile) -> dict:
    """Parse a job or defaults file: a JSON object whose keys are all known."""
    if len(raw) > MAX_JOB_FILE_BYTES:
        raise error(f"{what} is {len(raw)} bytes; expected at most {MAX_JOB_FILE_BYTES} bytes of JSON")
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{what} is not valid JSON ({exc}); expected a JSON object such as "
                    '{"image": "cat.png", "prompt": "..."}') from None
    if not isinstance(doc, dict):
        raise error(f"{what} holds a JSON {type(doc).__name__}; expected a JSON object")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise error(f"{what} has unknown key(s) {', '.join(unknown)}; expected only "
                    f"{', '.join(sorted(allowed))}", code=error.code if error is not InvalidJobFile
                    else "JOB_FILE_UNKNOWN_KEYS")
    return doc


def merge_layers(*layers: Mapping[str, Any]) -> dict:
    """Merge parameter layers given highest precedence first; `None` values do not override."""
    merged: dict[str, Any] = {}
    for layer in reversed(layers):
        for key, value in layer.items():
            if value is not None:
                merged[key] = value
    return merged


def stack_defaults(overrides: Mapping[str, Any]) -> dict:
    unknown = sorted(set(overrides) - set(DEFAULTS_FILE_KEYS))
    if unknown:
        raise InvalidParameters(f"stack defaults have unknown key(s) {', '.join(unknown)}; expected only "
                                f"{', '.join(sorted(DEFAULTS_FILE_KEYS))}", code="INVALID_STACK_DEFAULTS")
    return merge_layers(dict(overrides), STACK_DEFAULTS)


def canonical_request(params: JobParams) -> dict:
    """The notification's `request` object."""
    return {
        "mode": params.mode,
        "prompt": params.prompt,
        "negative_prompt": params.negative_prompt,
        "duration": params.duration,
        "guidance_scale": params.guidance_scale,
        "end_image_key": params.end_image,
    }

