"""The provider's rules, checked before any call so no money is spent on a job it would reject."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from i2v import constants as c
from i2v.errors import InvalidImage, InvalidParameters
from i2v.jobs.image_header import ImageInfo
from i2v.jobs.params import JobParams


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidParameters(f"{name} is {value!r}; expected one of 5, 10", code="INVALID_DURATION")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        return int(value.strip())
    raise InvalidParameters(f"{name} is {value!r}; expected one of 5, 10 (seconds)", code="INVALID_DURATION")


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidParameters(f"{name} is {value!r}; expected a number from 0 to 1", code="INVALID_GUIDANCE_SCALE")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidParameters(f"{name} is {value!r}; expected a number from 0 to 1",
                                code="INVALID_GUIDANCE_SCALE") from None
    if math.isnan(number) or math.isinf(number):
        raise InvalidParameters(f"{name} is {value!r}; expected a number from 0 to 1", code="INVALID_GUIDANCE_SCALE")
    return number


def validate_params(merged: Mapping[str, Any]) -> JobParams:
    """Check merged parameters against the provider's rules and return them typed."""
    mode = merged.get("mode", c.DEFAULT_MODE)
    if not isinstance(mode, str) or mode not in c.MODES:
        raise InvalidParameters(f"mode is {mode!r}; expected one of {', '.join(c.MODES)} (case-sensitive)",
                                code="INVALID_MODE")
    prompt = merged.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidParameters(f"prompt is empty; expected 1 to {c.PROMPT_MAX} characters", code="INVALID_PROMPT")
    if len(prompt) > c.PROMPT_MAX:
        raise InvalidParameters(f"prompt has {len(prompt)} characters; expected 1 to {c.PROMPT_MAX} "
                                "(use a .json job file for long prompts; metadata is capped at 2 KB)",
                                code="INVALID_PROMPT")
    negative = merged.get("negative_prompt")
    if negative is not None:
        if not isinstance(negative, str):
            raise InvalidParameters(f"negative_prompt is {negative!r}; expected text of 0 to {c.PROMPT_MAX} "
                                    "characters", code="INVALID_NEGATIVE_PROMPT")
        if len(negative) > c.PROMPT_MAX:
            raise InvalidParameters(f"negative_prompt has {len(negative)} characters; expected 0 to "
                                    f"{c.PROMPT_MAX}", code="INVALID_NEGATIVE_PROMPT")
    duration = _as_int("duration", merged.get("duration", c.DEFAULT_DURATION))
    if duration not in c.DURATIONS:
        raise InvalidParameters(f"duration is {duration}; expected one of 5, 10 (seconds)", code="INVALID_DURATION")
    guidance = _as_float("guidance_scale", merged.get("guidance_scale", c.DEFAULT_GUIDANCE_SCALE))
    if not 0.0 <= guidance <= 1.0:
        raise InvalidParameters(f"guidance_scale is {guidance:g}; expected a number from 0 to 1",
                                code="INVALID_GUIDANCE_SCALE")
    end_image = merged.get("end_image")
    if end_image is not None and (not isinstance(end_image, str) or not end_image.strip()):
        raise InvalidParameters(f"end_image is {end_image!r}; expected the key of a JPEG or PNG",
                                code="INVALID_END_IMAGE")
    if end_image and mode != "Professional":
        raise InvalidParameters(f"an end frame ({end_image}) was given with mode {mode}; expected mode Professional "
                                "for an end frame",
                                code="END_IMAGE_REQUIRES_PROFESSIONAL")
    return JobParams(mode=mode, prompt=prompt, negative_prompt=negative or None, duration=duration,
                     guidance_scale=guidance, end_image=end_image or None)


def validate_image(info: ImageInfo, what: str = "image") -> None:
    """Size and shape rules for a start or end frame already identified by its bytes."""
    if info.size_bytes > c.IMAGE_MAX_BYTES:
        raise InvalidImage(f"the {what} is {info.size_bytes / 1048576:.1f} MB; expected at most "
                           f"{c.IMAGE_MAX_BYTES // 1048576} MB", code="IMAGE_TOO_LARGE")
    if min(info.width, info.height) < c.IMAGE_MIN_SIDE:
        raise InvalidImage(f"the {what} is {info.width}x{info.height} px; expected each side at least "
                           f"{c.IMAGE_MIN_SIDE} px", code="IMAGE_TOO_SMALL")
    ratio = info.width / info.height
    if not c.ASPECT_MIN <= ratio <= c.ASPECT_MAX:
        raise InvalidImage(f"the {what} is {info.width}x{info.height} px (aspect ratio {ratio:.2f}:1); expected "
                           "between 1:2.5 and 2.5:1", code="IMAGE_ASPECT_RATIO")
