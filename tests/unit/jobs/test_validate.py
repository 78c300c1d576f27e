"""The image rules, checked by its bytes before any money is spent (i2v.jobs.validate).

The parameter rules are contracts now: tests/unit/contracts/test_params.py.
"""

from __future__ import annotations

import pytest

from i2v import constants as c
from i2v.contracts.errors import InvalidImage
from i2v.jobs.image_header import ImageInfo
from i2v.jobs.validate import MIB, validate_image


def image(width=1024, height=768, size=500_000, fmt="png") -> ImageInfo:
    return ImageInfo(format=fmt, width=width, height=height, size_bytes=size)


def image_rejected(info: ImageInfo, what: str = "image") -> InvalidImage:
    with pytest.raises(InvalidImage) as err:
        validate_image(info, what)
    return err.value


def test_image_over_10_mib_is_too_large():
    err = image_rejected(image(size=c.IMAGE_MAX_BYTES + 1))
    assert err.code == "IMAGE_TOO_LARGE"
    assert f"expected at most 10 MiB ({c.IMAGE_MAX_BYTES} bytes)" in err.message


def test_the_size_is_given_in_mib():
    err = image_rejected(image(size=12 * MIB + MIB // 2))
    assert err.message.startswith("the image is 12.5 MiB;")


def test_image_of_exactly_10_mib_passes():
    assert c.IMAGE_MAX_BYTES == 10 * MIB
    validate_image(image(size=c.IMAGE_MAX_BYTES))


def test_image_200x200_is_too_small():
    err = image_rejected(image(200, 200))
    assert err.code == "IMAGE_TOO_SMALL"
    assert "200x200" in err.message and "at least 300 px" in err.message


@pytest.mark.parametrize("width, height", [(299, 300), (300, 299)])
def test_one_side_under_300_px_is_too_small(width, height):
    assert image_rejected(image(width, height)).code == "IMAGE_TOO_SMALL"


def test_300_px_sides_pass():
    validate_image(image(300, 300))


@pytest.mark.parametrize("width, height", [(3000, 1000), (1000, 3000), (2501, 1000), (1000, 2501)])
def test_aspect_ratio_beyond_2_5_is_refused(width, height):
    err = image_rejected(image(width, height))
    assert err.code == "IMAGE_ASPECT_RATIO"
    assert f"{width}x{height}" in err.message and "between 1:2.5 and 2.5:1" in err.message


@pytest.mark.parametrize("width, height", [(2500, 1000), (1000, 2500), (750, 300), (300, 750)])
def test_aspect_ratio_of_exactly_2_5_passes(width, height):
    validate_image(image(width, height))


def test_size_is_checked_before_the_shape():
    assert image_rejected(image(100, 1000, size=c.IMAGE_MAX_BYTES + 1)).code == "IMAGE_TOO_LARGE"


def test_the_message_names_which_frame_is_wrong():
    assert "end image" in image_rejected(image(200, 200), "end image").message
    assert "end image" in image_rejected(image(size=c.IMAGE_MAX_BYTES + 1), "end image").message


def test_image_errors_belong_to_the_validate_stage_and_are_not_retryable():
    detail = image_rejected(image(200, 200)).detail
    assert (detail.stage.value, detail.retryable) == ("validate", False)
