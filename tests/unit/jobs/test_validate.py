"""The provider's rules, checked before any money is spent (i2v.jobs.validate)."""

from __future__ import annotations

import math

import pytest

from i2v import constants as c
from i2v.errors import InvalidImage, InvalidParameters
from i2v.jobs.image_header import ImageInfo
from i2v.jobs.validate import validate_image, validate_params

GOOD = {"mode": "Standard", "prompt": "a cat", "duration": 5, "guidance_scale": 0.5}


def rejected(**changes) -> InvalidParameters:
    with pytest.raises(InvalidParameters) as info:
        validate_params({**GOOD, **changes})
    return info.value


def test_good_parameters_come_back_typed():
    params = validate_params({**GOOD, "duration": "10", "guidance_scale": "0.25", "negative_prompt": "blur"})
    assert params.mode == "Standard"
    assert params.prompt == "a cat"
    assert params.duration == 10
    assert params.guidance_scale == 0.25
    assert params.negative_prompt == "blur"
    assert params.end_image is None


def test_missing_optional_parameters_take_the_provider_defaults():
    params = validate_params({"prompt": "a cat"})
    assert (params.mode, params.duration, params.guidance_scale) == ("Standard", 5, 0.5)


def test_an_empty_negative_prompt_means_none():
    assert validate_params({**GOOD, "negative_prompt": ""}).negative_prompt is None


@pytest.mark.parametrize("mode", ["standard", "Pro", "", None, 1])
def test_mode_must_be_standard_or_professional(mode):
    err = rejected(mode=mode)
    assert err.code == "INVALID_MODE"
    assert "Standard" in err.message and "Professional" in err.message and "expected" in err.message


@pytest.mark.parametrize("prompt", ["", "   ", None, 42])
def test_prompt_must_not_be_empty(prompt):
    err = rejected(prompt=prompt)
    assert err.code == "INVALID_PROMPT"
    assert "expected 1 to 2000 characters" in err.message


def test_prompt_of_2001_characters_is_too_long():
    err = rejected(prompt="x" * 2001)
    assert err.code == "INVALID_PROMPT"
    assert "2001" in err.message and "expected 1 to 2000" in err.message


def test_prompt_of_exactly_2000_characters_passes():
    assert len(validate_params({**GOOD, "prompt": "x" * 2000}).prompt) == 2000


@pytest.mark.parametrize("negative", ["x" * 2001, 7, ["a"]])
def test_negative_prompt_rules(negative):
    err = rejected(negative_prompt=negative)
    assert err.code == "INVALID_NEGATIVE_PROMPT"
    assert "expected" in err.message and "2000" in err.message


def test_negative_prompt_of_2000_characters_passes():
    assert len(validate_params({**GOOD, "negative_prompt": "n" * 2000}).negative_prompt) == 2000


@pytest.mark.parametrize("duration", [7, "x", True, False, 5.5, "", None, 0, -5])
def test_duration_must_be_5_or_10(duration):
    err = rejected(duration=duration)
    assert err.code == "INVALID_DURATION"
    assert "expected one of 5, 10" in err.message


@pytest.mark.parametrize("duration, expected", [(5, 5), (10, 10), ("5", 5), (" 10 ", 10), (10.0, 10)])
def test_duration_accepts_integers_in_any_plain_form(duration, expected):
    assert validate_params({**GOOD, "duration": duration}).duration == expected


@pytest.mark.parametrize("scale", [1.5, -0.1, math.nan, "nan", math.inf, "abc", True, None, [0.5]])
def test_guidance_scale_must_be_a_number_from_0_to_1(scale):
    err = rejected(guidance_scale=scale)
    assert err.code == "INVALID_GUIDANCE_SCALE"
    assert "expected a number from 0 to 1" in err.message


@pytest.mark.parametrize("scale, expected", [(0, 0.0), (1, 1.0), ("0.3", 0.3), (0.0, 0.0), (1.0, 1.0)])
def test_guidance_scale_boundaries_pass(scale, expected):
    assert validate_params({**GOOD, "guidance_scale": scale}).guidance_scale == expected


def test_end_image_requires_professional():
    err = rejected(end_image="uploads/end.png")
    assert err.code == "END_IMAGE_REQUIRES_PROFESSIONAL"
    assert "Professional" in err.message and "uploads/end.png" in err.message


def test_end_image_with_professional_passes():
    params = validate_params({**GOOD, "mode": "Professional", "end_image": "uploads/end.png"})
    assert params.end_image == "uploads/end.png"


@pytest.mark.parametrize("end", ["  ", 3])
def test_end_image_must_be_a_key(end):
    err = rejected(mode="Professional", end_image=end)
    assert err.code == "INVALID_END_IMAGE"
    assert "expected" in err.message


# --- images -------------------------------------------------------------------------------------


def image(width=1024, height=768, size=500_000, fmt="png") -> ImageInfo:
    return ImageInfo(format=fmt, width=width, height=height, size_bytes=size)


def image_rejected(info: ImageInfo, what: str = "image") -> InvalidImage:
    with pytest.raises(InvalidImage) as err:
        validate_image(info, what)
    return err.value


def test_image_over_10_mb_is_too_large():
    err = image_rejected(image(size=c.IMAGE_MAX_BYTES + 1))
    assert err.code == "IMAGE_TOO_LARGE"
    assert "expected at most 10 MB" in err.message


def test_image_of_exactly_10_mb_passes():
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


def test_the_message_names_which_frame_is_wrong():
    assert "end image" in image_rejected(image(200, 200), "end image").message
