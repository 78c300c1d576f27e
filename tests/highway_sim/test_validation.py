import io
import socket

import pytest
from PIL import Image

from highway_sim.errors import ApiError
from highway_sim.validation import (
    IMAGE_MAX_BYTES,
    check_image,
    check_prompt,
    fetch_image,
    image_identity,
    parse_submit,
)

URL = "http://127.0.0.1:9/start.jpg"
BASE = {"image_url": URL, "prompt": "a calm lake"}


def parse(body):
    import json
    return parse_submit(json.dumps(body).encode())


def reason_of(call, *args):
    with pytest.raises(ApiError) as info:
        call(*args)
    return info.value


def test_minimal_body_gets_the_defaults():
    req = parse(BASE)
    assert (req.mode, req.duration, req.guidance_scale) == ("Standard", 5, 0.5)
    assert req.end_image_url is None and req.negative_prompt is None
    assert req.fields_sent == ("image_url", "prompt")


def test_full_professional_body():
    req = parse({**BASE, "mode": "Professional", "end_image_url": URL + "?v=2", "negative_prompt": "",
                 "duration": 10, "guidance_scale": 1})
    assert (req.mode, req.duration, req.guidance_scale, req.negative_prompt) == ("Professional", 10, 1.0, "")
    assert req.end_image_url == URL + "?v=2"


@pytest.mark.parametrize("body, words", [
    ([BASE], "JSON object"),
    ("text", "JSON object"),
    ({**BASE, "webhook": "x"}, "'webhook'"),
    ({**BASE, "negative_prompt": None}, "null"),
    ({**BASE, "mode": None}, "null"),
    ({**BASE, "mode": "standard"}, "mode"),
    ({**BASE, "mode": 1}, "mode"),
    ({"prompt": "x"}, "image_url is required"),
    ({**BASE, "image_url": ""}, "image_url"),
    ({**BASE, "image_url": 5}, "image_url"),
    ({**BASE, "image_url": "ftp://host/a.jpg"}, "http"),
    ({**BASE, "end_image_url": URL}, "Professional"),
    ({**BASE, "mode": "Professional", "end_image_url": "nope"}, "end_image_url"),
    ({"image_url": URL}, "prompt is required"),
    ({**BASE, "prompt": ""}, "prompt"),
    ({**BASE, "prompt": "x" * 2001}, "prompt"),
    ({**BASE, "prompt": 3}, "prompt"),
    ({**BASE, "negative_prompt": "x" * 2001}, "negative_prompt"),
    ({**BASE, "duration": 7}, "duration"),
    ({**BASE, "duration": 5.0}, "duration"),
    ({**BASE, "duration": "5"}, "duration"),
    ({**BASE, "duration": True}, "duration"),
    ({**BASE, "guidance_scale": 1.01}, "guidance_scale"),
    ({**BASE, "guidance_scale": -0.1}, "guidance_scale"),
    ({**BASE, "guidance_scale": "0.5"}, "guidance_scale"),
    ({**BASE, "guidance_scale": False}, "guidance_scale"),
])
def test_each_field_rule_is_invalid_request_body(body, words):
    error = reason_of(parse, body)
    assert (error.status, error.reason) == (400, "INVALID_REQUEST_BODY")
    assert words in error.message


@pytest.mark.parametrize("raw", [
    b"", b"{", b"\xff\xfe", b'{"image_url": NaN}', b'{"guidance_scale": Infinity}',
])
def test_not_json_is_invalid_request_body(raw):
    assert reason_of(parse_submit, raw).reason == "INVALID_REQUEST_BODY"


def test_limits_are_inclusive():
    parse({**BASE, "prompt": "x" * 2000, "negative_prompt": "y" * 2000, "guidance_scale": 0})


@pytest.mark.parametrize("prompt", ["a forbidden scene", "FORBIDDEN", "this is Forbidden."])
def test_forbidden_word_is_illegal_prompt(prompt):
    error = reason_of(check_prompt, prompt)
    assert (error.status, error.reason) == (400, "ILLEGAL_PROMPT")


def test_words_containing_forbidden_are_fine():
    check_prompt("unforbiddenness aside, a lake")


def encode(width, height, fmt="PNG"):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("width, height, fmt", [(300, 300, "PNG"), (750, 300, "JPEG"), (300, 750, "PNG")])
def test_good_images_pass(width, height, fmt):
    assert check_image(encode(width, height, fmt), "image_url").size == (width, height)


@pytest.mark.parametrize("data, reason", [
    (b"GIF89a" + b"\0" * 100, "INVALID_IMAGE_FORMAT"),
    (encode(400, 400, "GIF"), "INVALID_IMAGE_FORMAT"),
    (encode(400, 400, "WEBP"), "INVALID_IMAGE_FORMAT"),
    (b"\xff\xd8\xff" + b"garbage" * 20, "INVALID_IMAGE_FORMAT"),
    (encode(800, 600, "JPEG")[:600], "INVALID_IMAGE_FORMAT"),  # truncated
    (encode(800, 600, "PNG")[:-40], "INVALID_IMAGE_FORMAT"),  # truncated
    (encode(299, 500), "INVALID_IMAGE_SIZE"),
    (encode(500, 299), "INVALID_IMAGE_SIZE"),
    (encode(760, 300), "INVALID_IMAGE_SIZE"),  # 2.53:1
    (encode(300, 760), "INVALID_IMAGE_SIZE"),
    (encode(400, 400, "JPEG") + b"\0" * IMAGE_MAX_BYTES, "IMAGE_FILE_EXCEEDS_MAX_SIZE"),
])
def test_image_byte_rules(data, reason):
    error = reason_of(check_image, data, "image_url")
    assert (error.status, error.reason) == (400, reason)
    assert "image_url" in error.message


def test_fetch_image_returns_the_bytes(image_host):
    data = encode(400, 400)
    assert fetch_image(image_host.put("v/ok.png", data), "image_url", 5) == data


def test_fetch_non_200_is_invalid_request_body(image_host):
    error = reason_of(fetch_image, image_host.put("v/denied.png", b"no", status=403), "image_url", 5)
    assert (error.reason, "HTTP 403" in error.message) == ("INVALID_REQUEST_BODY", True)
    missing = reason_of(fetch_image, image_host.base + "/v/none.png", "image_url", 5)
    assert missing.reason == "INVALID_REQUEST_BODY"


def test_fetch_connection_refused_is_invalid_request_body():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = reason_of(fetch_image, f"http://127.0.0.1:{port}/a.png", "end_image_url", 2)
    assert error.reason == "INVALID_REQUEST_BODY" and "end_image_url" in error.message


def test_fetch_too_big_stops_early(image_host):
    url = image_host.put("v/big.jpg", b"\xff\xd8\xff" + b"\0" * IMAGE_MAX_BYTES)
    assert reason_of(fetch_image, url, "image_url", 5).reason == "IMAGE_FILE_EXCEEDS_MAX_SIZE"


def test_fetch_timeout_is_invalid_request_body():
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/a.png"
        error = reason_of(fetch_image, url, "image_url", 0.3)
    assert error.reason == "INVALID_REQUEST_BODY"


@pytest.mark.parametrize("url, identity", [
    ("http://h/bucket/a.png", "/bucket/a.png"),
    ("http://h/bucket/a.png?X-Amz-Signature=1&X-Amz-Date=2", "/bucket/a.png"),
    ("http://h/bucket/a.png?versionId=v1&X-Amz-Signature=1", "/bucket/a.png?versionId=v1"),
    ("https://other/bucket/a.png?X-Amz-Signature=9&versionId=v1", "/bucket/a.png?versionId=v1"),
])
def test_image_identity_ignores_signatures_but_keeps_the_version(url, identity):
    assert image_identity(url) == identity
