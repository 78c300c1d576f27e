"""The parameter rules: which parameters a job has, how layers of them merge, and what is valid.

One module for the functions (every job is checked against it before any provider call), the CDK
app (the stack defaults are checked against it at synth), and the command line (flags are checked
against it before a local run starts). A rule changed here changes everywhere at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from i2v import constants as c
from i2v.contracts.errors import ErrorCode, InvalidParameters
from i2v.contracts.status import Priority

PARAM_KEYS = ("mode", "prompt", "negative_prompt", "duration", "guidance_scale", "end_image", "priority", "reuse")
JOB_FILE_KEYS = frozenset(PARAM_KEYS) | {"image"}
DEFAULTS_FILE_KEYS = frozenset(PARAM_KEYS) - {"end_image"}
STACK_DEFAULTS: Mapping[str, Any] = {
    "mode": c.DEFAULT_MODE,
    "prompt": c.DEFAULT_PROMPT,
    "duration": c.DEFAULT_DURATION,
    "guidance_scale": c.DEFAULT_GUIDANCE_SCALE,
    "priority": Priority.NORMAL.value,
    "reuse": True,
}
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")
_INTEGER = re.compile(r"\+?[0-9]{1,6}")  # ASCII digits only: "²".isdigit() is True, int("²") is not
_MAX_NUMBER_TEXT = 64


@dataclass(frozen=True)
class JobParams:
    """The parameters actually used for one job, checked and canonical."""

    mode: str
    prompt: str
    negative_prompt: str | None
    duration: int
    guidance_scale: float
    end_image: str | None  # object key, already resolved
    priority: Priority = Priority.NORMAL
    reuse: bool = True  # an earlier video of the same content and request may be copied instead of paid for

    def request(self) -> dict[str, Any]:
        """The notification's ``request`` object (the image key is added by the job)."""
        return {"mode": self.mode, "prompt": self.prompt, "negative_prompt": self.negative_prompt,
                "duration": self.duration, "guidance_scale": self.guidance_scale, "end_image_key": self.end_image,
                "priority": self.priority.value, "reuse": self.reuse}

    def content_request(self) -> dict[str, Any]:
        """What makes two videos the same besides the images: the parameters the provider sees."""
        return {"mode": self.mode, "prompt": self.prompt, "negative_prompt": self.negative_prompt,
                "duration": self.duration, "guidance_scale": self.guidance_scale}


def merge_layers(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Merge parameter layers given highest precedence first; ``None`` values do not override."""
    merged: dict[str, Any] = {}
    for layer in reversed(layers):
        for key, value in layer.items():
            if value is not None:
                merged[key] = value
    return merged


def _shown(value: object, number: bool = True) -> str | int | float | None:
    """A parameter as a failure notification may show it: JSON-safe, valid UTF-8, bounded.

    ``number=False`` for the fields the notification schema types as text: a number there is shown as text.
    """
    if value is None or isinstance(value, bool):
        return None if value is None else str(value).lower()
    if isinstance(value, int) and number:
        return value if abs(value) < 10**15 else _show(value)
    if isinstance(value, float) and number:
        return value if math.isfinite(value) else str(value)
    text = value if isinstance(value, str) else _repr(value)
    return text.encode("utf-8", "replace").decode("utf-8")[:2 * c.PROMPT_MAX]


def shown_request(merged: Mapping[str, Any]) -> dict[str, Any]:
    """The notification's ``request`` for parameters that may break the rules (the job failed on them)."""
    shown = {k: _shown(merged.get(k), number=k in ("duration", "guidance_scale"))
             for k in ("mode", "prompt", "negative_prompt", "duration", "guidance_scale", "priority")}
    reuse = merged.get("reuse")
    return shown | {"end_image_key": _shown(merged.get("end_image"), number=False),
                    "reuse": reuse if reuse is None or isinstance(reuse, bool) else _shown(reuse)}


def _text(name: str, value: object, code: ErrorCode, *, required: bool) -> str | None:
    low = 1 if required else 0
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidParameters(f"{name} is {_show(value)}; expected text of {low} to {c.PROMPT_MAX} characters",
                                code=code)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParameters(f"{name} contains invalid Unicode (a lone surrogate); expected UTF-8 text",
                                code=code) from None
    if required and not value.strip():
        raise InvalidParameters(f"{name} is empty or only spaces; expected 1 to {c.PROMPT_MAX} characters",
                                code=code)
    if len(value) > c.PROMPT_MAX:
        raise InvalidParameters(f"{name} has {len(value)} characters; expected {low} to {c.PROMPT_MAX} "
                                "(use a .json job file for long prompts; metadata is capped at 2 KB)", code=code)
    return value


def _repr(value: object) -> str:
    """repr() that never raises: JSON can nest deeper than repr() can recurse from a deeper stack."""
    try:
        return repr(value)
    except (RecursionError, ValueError):  # ValueError: an int of more than sys.get_int_max_str_digits() digits
        return f"<a {type(value).__name__} nested too deeply or too long to show>"


def _show(value: object) -> str:
    """A value for an error message: short, and never a huge or hostile string in full."""
    text = _repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_mode(value: object) -> str:
    if isinstance(value, str):
        for mode in c.MODES:
            if value.strip().lower() == mode.lower():
                return mode
    raise InvalidParameters(f"mode is {_show(value)}; expected one of {', '.join(c.MODES)}", code=ErrorCode.INVALID_MODE)


def check_duration(value: object) -> int:
    expected = f"expected one of {', '.join(map(str, c.DURATIONS))} (seconds)"
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value.strip())
    if number is None or number not in c.DURATIONS:
        raise InvalidParameters(f"duration is {_show(value)}; {expected}", code=ErrorCode.INVALID_DURATION)
    return number


def check_guidance_scale(value: object) -> float:
    problem = InvalidParameters(f"guidance_scale is {_show(value)}; expected a number from 0 to 1",
                                code=ErrorCode.INVALID_GUIDANCE_SCALE)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise problem
    if isinstance(value, str) and len(value) > _MAX_NUMBER_TEXT:
        raise problem
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise problem from None
    if math.isnan(number) or not 0.0 <= number <= 1.0:
        raise problem
    return number


def check_priority(value: object) -> Priority:
    if isinstance(value, str):
        try:
            return Priority(value.strip().lower())
        except ValueError:
            pass
    raise InvalidParameters(f"priority is {_show(value)}; expected one of {', '.join(p.value for p in Priority)}",
                            code=ErrorCode.INVALID_PRIORITY)


def check_reuse(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidParameters(f"reuse is {_show(value)}; expected true or false", code=ErrorCode.INVALID_REUSE)


def check_end_image(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameters(f"end_image is {_show(value)}; expected the key of a JPEG or PNG",
                                code=ErrorCode.INVALID_END_IMAGE)
    return value


def problems(merged: Mapping[str, Any]) -> list[InvalidParameters]:
    """Every rule the merged parameters break, in a stable order (the command line reports them all)."""
    found: list[InvalidParameters] = []
    checks = (
        lambda: check_mode(merged.get("mode", c.DEFAULT_MODE)),
        lambda: _text("prompt", merged.get("prompt"), ErrorCode.INVALID_PROMPT, required=True),
        lambda: _text("negative_prompt", merged.get("negative_prompt"), ErrorCode.INVALID_NEGATIVE_PROMPT,
                      required=False),
        lambda: check_duration(merged.get("duration", c.DEFAULT_DURATION)),
        lambda: check_guidance_scale(merged.get("guidance_scale", c.DEFAULT_GUIDANCE_SCALE)),
        lambda: check_priority(merged.get("priority", Priority.NORMAL.value)),
        lambda: check_reuse(merged.get("reuse", True)),
        lambda: check_end_image(merged.get("end_image")),
    )
    for check in checks:
        try:
            check()
        except InvalidParameters as exc:
            found.append(exc)
    if not found and merged.get("end_image") and check_mode(merged.get("mode", c.DEFAULT_MODE)) != "Professional":
        found.append(InvalidParameters(
            f"an end frame ({merged['end_image']}) was given with mode {check_mode(merged.get('mode', c.DEFAULT_MODE))}; "
            "expected mode Professional for an end frame", code=ErrorCode.END_IMAGE_REQUIRES_PROFESSIONAL))
    return found


def validate_params(merged: Mapping[str, Any]) -> JobParams:
    """Check merged parameters against the provider's rules and return them typed; raises the first problem."""
    found = problems(merged)
    if found:
        raise found[0]
    negative = merged.get("negative_prompt")
    return JobParams(
        mode=check_mode(merged.get("mode", c.DEFAULT_MODE)),
        prompt=str(merged["prompt"]),
        negative_prompt=negative if isinstance(negative, str) and negative else None,
        duration=check_duration(merged.get("duration", c.DEFAULT_DURATION)),
        guidance_scale=check_guidance_scale(merged.get("guidance_scale", c.DEFAULT_GUIDANCE_SCALE)),
        end_image=check_end_image(merged.get("end_image")) or None,
        priority=check_priority(merged.get("priority", Priority.NORMAL.value)),
        reuse=check_reuse(merged.get("reuse", True)),
    )


def stack_defaults(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The stack-wide defaults over the built-in ones, checked by the same rules as every job.

    Raises InvalidParameters (code INVALID_STACK_DEFAULTS, the message names the rule) when a job
    using only these defaults would fail: an unknown key, a prompt of only spaces, a bad mode...
    """
    unknown = sorted(set(overrides) - DEFAULTS_FILE_KEYS)
    if unknown:
        raise InvalidParameters(f"stack defaults have unknown key(s) {', '.join(unknown)}; expected only "
                                f"{', '.join(sorted(DEFAULTS_FILE_KEYS))}", code=ErrorCode.INVALID_STACK_DEFAULTS)
    merged = merge_layers(dict(overrides), STACK_DEFAULTS)
    try:
        params = validate_params(merged)
    except InvalidParameters as exc:
        raise InvalidParameters(f"stack defaults: {exc.message}", code=ErrorCode.INVALID_STACK_DEFAULTS) from None
    canonical = params.request()
    canonical.pop("end_image_key")
    return {k: v for k, v in canonical.items() if v is not None}
