"""The image rules, checked by its bytes before any call so no money is spent on a job the provider
would reject. (The parameter rules are contracts: ``i2v.contracts.params``.)"""

from __future__ import annotations

from i2v import constants as c
from i2v.contracts.errors import ErrorCode, InvalidImage
from i2v.jobs.image_header import ImageInfo

MIB = 1024 * 1024


def validate_image(info: ImageInfo, what: str = "image") -> None:
    """Size and shape rules for a start or end frame already identified by its bytes."""
    if info.size_bytes > c.IMAGE_MAX_BYTES:
        raise InvalidImage(f"the {what} is {info.size_bytes / MIB:.1f} MiB; expected at most "
                           f"{c.IMAGE_MAX_BYTES // MIB} MiB ({c.IMAGE_MAX_BYTES} bytes)", code=ErrorCode.IMAGE_TOO_LARGE)
    if min(info.width, info.height) < c.IMAGE_MIN_SIDE:
        raise InvalidImage(f"the {what} is {info.width}x{info.height} px; expected each side at least "
                           f"{c.IMAGE_MIN_SIDE} px", code=ErrorCode.IMAGE_TOO_SMALL)
    ratio = info.width / info.height
    if not c.ASPECT_MIN <= ratio <= c.ASPECT_MAX:
        raise InvalidImage(f"the {what} is {info.width}x{info.height} px (aspect ratio {ratio:.2f}:1); expected "
                           "between 1:2.5 and 2.5:1", code=ErrorCode.IMAGE_ASPECT_RATIO)
