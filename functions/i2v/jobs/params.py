"""Where a job's parameters come from: S3 user metadata, a job file, a `_defaults.json`.

Each source is parsed into the canonical snake_case names of ``i2v.contracts.params``, whose rules
then merge and check them (highest first: the object's metadata or the job file itself, the nearest
`_defaults.json`, then the stack defaults).
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections.abc import Mapping
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from typing import Any

from i2v.contracts.errors import ErrorCode, InvalidJobFile, InvalidParameters

METADATA_KEYS = {  # S3 user metadata names (x-amz-meta-*) -> canonical names
    "prompt": "prompt",
    "negative-prompt": "negative_prompt",
    "mode": "mode",
    "duration": "duration",
    "guidance-scale": "guidance_scale",
    "end-image": "end_image",
    "priority": "priority",
    "reuse": "reuse",
}
MAX_JOB_FILE_BYTES = 64 * 1024
_FOLD = re.compile(r"\r?\n[ \t]+")


def decode_metadata_value(value: str, name: str = "value") -> str:
    """S3 returns non-ASCII metadata as RFC 2047 encoded-words (=?UTF-8?B?...?=); decode them.

    A folded value (a header continued on the next line) is unfolded first. An encoded word that
    cannot be decoded (bad base64 or quoted-printable, an unknown charset, bytes that are not text in
    its charset) raises InvalidParameters with code INVALID_METADATA: sending it to the provider as
    it stands would pay for a video made from a garbled prompt.
    """
    value = _FOLD.sub(" ", value)
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeDecodeError, HeaderParseError) as exc:
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidParameters(
            f"the metadata {name} {shown!r} holds an RFC 2047 encoded word that cannot be decoded "
            f"({type(exc).__name__}: {str(exc)[:100]}); expected plain ASCII or =?UTF-8?B?<base64 of UTF-8 text>?=",
            code=ErrorCode.INVALID_METADATA) from None


def encode_metadata_value(value: str) -> str:
    """The inverse, for writers (the command line): printable ASCII stays as is; anything else is one
    encoded-word on one line (a header value cannot hold a line break, and folding would lose it)."""
    if value.isascii() and value.isprintable() and "=?" not in value:
        return value
    return "=?utf-8?b?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def from_metadata(metadata: Mapping[str, str]) -> dict[str, Any]:
    """User metadata as canonical parameters; unrelated metadata keys are ignored."""
    out: dict[str, Any] = {}
    for raw_key, value in metadata.items():
        name = METADATA_KEYS.get(raw_key.lower())
        if name is not None:
            out[name] = decode_metadata_value(value, raw_key.lower())
    return out


def parse_json_object(raw: bytes, what: str, *, allowed: frozenset[str],
                      error: type[InvalidJobFile] = InvalidJobFile) -> dict[str, Any]:
    """Parse a job or defaults file: a JSON object whose keys are all known. Any bad input raises ``error``."""
    if len(raw) > MAX_JOB_FILE_BYTES:
        raise error(f"{what} is {len(raw)} bytes; expected at most {MAX_JOB_FILE_BYTES} bytes of JSON")
    if not raw.strip():
        raise error(f"{what} is empty; expected a JSON object such as "
                    '{"image": "cat.png", "prompt": "..."}')
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: JSON, and ints over 4300 digits
        if isinstance(exc, RecursionError):
            reason = "nested too deeply"
        elif isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
            reason = str(exc)[:200]
        else:  # int() refused a number too long to convert (its message advises a Python setting)
            reason = f"a number has more than {sys.get_int_max_str_digits()} digits"
        raise error(f"{what} is not valid JSON ({reason}); expected a JSON object such as "
                    '{"image": "cat.png", "prompt": "..."}') from None
    if not isinstance(doc, dict):
        raise error(f"{what} holds a JSON {type(doc).__name__}; expected a JSON object")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        shown = ", ".join(repr(k)[:40] for k in unknown[:10])
        raise error(f"{what} has unknown key(s) {shown}; expected only {', '.join(sorted(allowed))}",
                    code=error.code if error is not InvalidJobFile else ErrorCode.JOB_FILE_UNKNOWN_KEYS)
    return doc
