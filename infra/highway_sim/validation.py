"""Submit-body rules, image fetching and image byte rules, as the provider publishes them (docs/provider.md).

Strict on purpose: the simulator exists to catch a pipeline that sends what the real service
would refuse (nulls for optional fields, floats for ``duration``, stray fields).
"""

from __future__ import annotations

import io
import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from PIL import Image

from .errors import ApiError, bad_request

MODES = ("Standard", "Professional")
DURATIONS = (5, 10)
PROMPT_MAX = 2000
FIELDS = ("mode", "image_url", "end_image_url", "prompt", "negative_prompt", "duration", "guidance_scale")
IMAGE_MAX_BYTES = 10 * 1024 * 1024
IMAGE_MIN_SIDE = 300
ASPECT_MAX = 2.5
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_FORBIDDEN = re.compile(r"\bforbidden\b", re.IGNORECASE)


@dataclass(frozen=True)
class SubmitRequest:
    """A submit body that passed every field rule, with defaults filled in."""

    mode: str
    image_url: str
    end_image_url: str | None
    prompt: str
    negative_prompt: str | None
    duration: int
    guidance_scale: float
    fields_sent: tuple[str, ...]


def parse_submit(raw: bytes) -> SubmitRequest:
    """Parse and check a submit body; raises ApiError(400) naming the first broken rule."""
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    unknown = [name for name in body if name not in FIELDS]
    if unknown:
        raise bad_request(f"unknown field '{unknown[0]}'")
    for name, value in body.items():
        if value is None:
            raise bad_request(f"field '{name}' must not be null; leave optional fields out")

    mode = body.get("mode", "Standard")
    if not isinstance(mode, str) or mode not in MODES:
        raise bad_request("mode must be 'Standard' or 'Professional'")
    if "image_url" not in body:
        raise bad_request("image_url is required")
    image_url = _url("image_url", body["image_url"])
    end_image_url = None
    if "end_image_url" in body:
        if mode != "Professional":
            raise bad_request("end_image_url is only allowed when mode is 'Professional'")
        end_image_url = _url("end_image_url", body["end_image_url"])
    if "prompt" not in body:
        raise bad_request("prompt is required")
    prompt = _text("prompt", body["prompt"], 1)
    negative_prompt = None
    if "negative_prompt" in body:
        negative_prompt = _text("negative_prompt", body["negative_prompt"], 0)
    duration = body.get("duration", 5)
    if isinstance(duration, bool) or not isinstance(duration, int) or duration not in DURATIONS:
        raise bad_request("duration must be the integer 5 or 10")
    guidance = body.get("guidance_scale", 0.5)
    if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or not 0 <= guidance <= 1:
        raise bad_request("guidance_scale must be a number within [0, 1]")
    return SubmitRequest(
        mode=mode,
        image_url=image_url,
        end_image_url=end_image_url,
        prompt=prompt,
        negative_prompt=negative_prompt,
        duration=duration,
        guidance_scale=float(guidance),
        fields_sent=tuple(sorted(body)),
    )


def check_prompt(prompt: str) -> None:
    """Content moderation stand-in: the word "forbidden" lets tests reach ILLEGAL_PROMPT."""
    if _FORBIDDEN.search(prompt):
        raise ApiError(400, "ILLEGAL_PROMPT", "prompt violates the content policy")


def fetch_image(url: str, field: str, timeout: float) -> bytes:
    """GET the image like the provider would: direct connection, bounded size and time."""
    deadline = time.monotonic() + timeout
    session = requests.Session()
    session.trust_env = False  # the provider's own network: no local proxy settings
    try:
        with session.get(url, timeout=timeout, stream=True) as reply:
            if reply.status_code != 200:
                raise bad_request(f"could not fetch {field}: HTTP {reply.status_code}")
            declared = reply.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > IMAGE_MAX_BYTES:
                raise _too_big(field)
            data = bytearray()
            for chunk in reply.iter_content(64 * 1024):
                data += chunk
                if len(data) > IMAGE_MAX_BYTES:
                    raise _too_big(field)
                if time.monotonic() > deadline:
                    raise bad_request(f"could not fetch {field}: timed out")
            return bytes(data)
    except requests.RequestException as exc:
        raise bad_request(f"could not fetch {field}: {type(exc).__name__}") from None
    finally:
        session.close()


def check_image(data: bytes, field: str) -> Image.Image:
    """Apply the published byte rules; returns the decoded image for rendering."""
    if len(data) > IMAGE_MAX_BYTES:
        raise _too_big(field)
    if not data.startswith((JPEG_MAGIC, PNG_MAGIC)):
        raise ApiError(400, "INVALID_IMAGE_FORMAT", f"{field} must be a JPEG or PNG image")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()  # full decode: catches truncated and corrupt files
    except Image.DecompressionBombError:
        raise ApiError(400, "IMAGE_EXCEEDS_MAX_RESOLUTION", f"{field} has too many pixels") from None
    except Exception:  # noqa: BLE001 (Pillow raises OSError, SyntaxError, ValueError, struct.error...)
        raise ApiError(400, "INVALID_IMAGE_FORMAT", f"{field} could not be decoded") from None
    if image.format not in ("JPEG", "PNG"):
        raise ApiError(400, "INVALID_IMAGE_FORMAT", f"{field} must be a JPEG or PNG image")
    width, height = image.size
    if min(width, height) < IMAGE_MIN_SIDE:
        raise ApiError(400, "INVALID_IMAGE_SIZE",
                       f"{field} is {width}x{height}; each side must be at least {IMAGE_MIN_SIDE} px")
    if not 1 / ASPECT_MAX <= width / height <= ASPECT_MAX:
        raise ApiError(400, "INVALID_IMAGE_SIZE",
                       f"{field} is {width}x{height}; aspect ratio must be between 1:2.5 and 2.5:1")
    return image


def image_identity(url: str) -> str:
    """The stored object a URL names: its path, plus ``versionId`` when present.

    Presigned URLs for one object differ in signature parameters; this ignores them.
    """
    parts = urlsplit(url)
    version = parse_qs(parts.query).get("versionId")
    return f"{parts.path}?versionId={version[0]}" if version else parts.path


def _url(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise bad_request(f"{name} must be a non-empty string")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad_request(f"{name} must be an http(s) URL")
    return value


def _text(name: str, value: Any, minimum: int) -> str:
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string")
    if not minimum <= len(value) <= PROMPT_MAX:
        raise bad_request(f"{name} must be {minimum} to {PROMPT_MAX} characters long")
    return value


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _too_big(field: str) -> ApiError:
    return ApiError(400, "IMAGE_FILE_EXCEEDS_MAX_SIZE", f"{field} is larger than 10 MB")

