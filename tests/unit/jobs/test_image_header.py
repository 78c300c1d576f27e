"""Format and size from the first bytes, reading only small ranges (i2v.jobs.image_header)."""

from __future__ import annotations

import io
import os
import struct

import pytest
from PIL import Image

from i2v.contracts.errors import InvalidImage
from i2v.jobs.image_header import bytes_reader, inspect_image


class CountingReader:
    """A ranged reader over bytes that counts what it hands out, like S3 ranged GETs."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls: list[tuple[int, int]] = []
        self.bytes_read = 0

    def __call__(self, start: int, end: int) -> bytes:
        self.calls.append((start, end))
        chunk = self.data[start : end + 1]
        self.bytes_read += len(chunk)
        return chunk


def inspect(data: bytes):
    return inspect_image(bytes_reader(data), len(data))


def corrupt(data: bytes) -> InvalidImage:
    with pytest.raises(InvalidImage) as info:
        inspect(data)
    return info.value


def with_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """Insert an APPn segment right after SOI (as cameras put EXIF there)."""
    assert len(payload) + 2 <= 0xFFFF
    return jpeg[:2] + bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def test_png_size_and_format(image_data):
    info = inspect(image_data(640, 360, "PNG"))
    assert (info.format, info.width, info.height) == ("png", 640, 360)


def test_jpeg_size_and_format(image_data):
    data = image_data(800, 1200, "JPEG", quality=85)
    info = inspect(data)
    assert (info.format, info.width, info.height, info.size_bytes) == ("jpeg", 800, 1200, len(data))


def test_progressive_jpeg(image_data):
    info = inspect(image_data(512, 400, "JPEG", progressive=True))
    assert (info.format, info.width, info.height) == ("jpeg", 512, 400)


def test_jpeg_whose_frame_header_lies_past_64_kib(image_data):
    jpeg = image_data(700, 500, "JPEG")
    exif = b"Exif\x00\x00" + b"\x00" * 65_000  # a camera EXIF block with a big thumbnail
    xmp = b"http://ns.adobe.com/xap/1.0/\x00" + b" " * 20_000
    data = with_segment(with_segment(jpeg, 0xE1, xmp), 0xE1, exif)
    sof = data.index(b"\xff\xc0")
    assert sof > 64 * 1024
    assert Image.open(io.BytesIO(data)).size == (700, 500)  # still a valid JPEG to a real decoder
    info = inspect(data)
    assert (info.width, info.height) == (700, 500)


def test_jpeg_with_an_exif_thumbnail_reports_the_main_image(image_data):
    thumbnail = image_data(160, 120, "JPEG")  # has its own SOI and frame header inside APP1
    data = with_segment(image_data(1024, 768, "JPEG"), 0xE1, b"Exif\x00\x00" + b"\x00" * 64 + thumbnail)
    info = inspect(data)
    assert (info.width, info.height) == (1024, 768)


def test_gif_named_png_is_unsupported(image_data):
    with pytest.raises(InvalidImage) as info:
        inspect(image_data(400, 400, "GIF"))
    assert info.value.code == "IMAGE_FORMAT_UNSUPPORTED"
    assert "GIF" in info.value.message and "expected JPEG or PNG" in info.value.message


@pytest.mark.parametrize("fmt, name", [("WEBP", "WebP"), ("BMP", "BMP"), ("TIFF", "TIFF")])
def test_other_image_formats_are_named(image_data, fmt, name):
    with pytest.raises(InvalidImage) as info:
        inspect(image_data(400, 400, fmt))
    assert info.value.code == "IMAGE_FORMAT_UNSUPPORTED"
    assert name in info.value.message


def test_heic_like_container_is_unsupported():
    data = b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100
    assert corrupt(data).code == "IMAGE_FORMAT_UNSUPPORTED"


def test_unknown_bytes_are_unsupported():
    err = corrupt(b"hello, this is a text file pretending to be an image")
    assert err.code == "IMAGE_FORMAT_UNSUPPORTED"
    assert "expected JPEG or PNG" in err.message


def test_empty_file():
    with pytest.raises(InvalidImage) as info:
        inspect_image(bytes_reader(b""), 0)
    assert info.value.code == "IMAGE_EMPTY"
    assert "0 bytes" in info.value.message


def test_truncated_png_is_corrupt(image_data):
    data = image_data(640, 480, "PNG")
    err = corrupt(data[: len(data) // 2])
    assert err.code == "IMAGE_CORRUPT"
    assert "truncated" in err.message


def test_png_cut_inside_its_header_is_corrupt(image_data):
    assert corrupt(image_data(640, 480, "PNG")[:20]).code == "IMAGE_CORRUPT"


def test_png_with_a_bad_ihdr_checksum_is_corrupt(image_data):
    data = bytearray(image_data(640, 480, "PNG"))
    data[29] ^= 0xFF  # first byte of the IHDR CRC
    err = corrupt(bytes(data))
    assert err.code == "IMAGE_CORRUPT"
    assert "checksum" in err.message


def test_png_whose_first_chunk_is_not_ihdr_is_corrupt(image_data):
    data = bytearray(image_data(640, 480, "PNG"))
    data[12:16] = b"IDAT"
    assert corrupt(bytes(data)).code == "IMAGE_CORRUPT"


def test_truncated_jpeg_is_corrupt(image_data):
    data = image_data(640, 480, "JPEG")
    err = corrupt(data[: len(data) // 2])
    assert err.code == "IMAGE_CORRUPT"
    assert "end-of-image" in err.message


def test_jpeg_with_broken_segments_is_corrupt():
    app0 = b"\xff\xe0\x00\x10" + b"JFIF\x00" + b"\x00" * 9
    broken = b"\xff\xd8" + app0 + b"\x12\x34" * 100 + b"\xff\xd9"  # after APP0: no marker, garbage
    err = corrupt(broken)
    assert err.code == "IMAGE_CORRUPT"
    assert "segment structure is broken" in err.message


def test_jpeg_without_a_frame_header_is_corrupt():
    data = (
        b"\xff\xd8"
        + b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + b"\xff\xda\x00\x08"
        + b"\x00" * 100
        + b"\xff\xd9"
    )
    err = corrupt(data)
    assert err.code == "IMAGE_CORRUPT"
    assert "frame header" in err.message


def test_zero_sized_header_is_corrupt(image_data):
    data = bytearray(image_data(640, 480, "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = b"\x00\x00\x00\x00"  # height 0, width 0
    err = corrupt(bytes(data))
    assert err.code == "IMAGE_CORRUPT"
    assert "0x0" in err.message


@pytest.fixture(scope="module")
def big_png() -> bytes:
    noise = Image.frombytes("RGB", (1300, 1300), os.urandom(1300 * 1300 * 3))
    buf = io.BytesIO()
    noise.save(buf, "PNG", compress_level=0)
    return buf.getvalue()


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    noise = Image.frombytes("RGB", (1800, 1800), os.urandom(1800 * 1800 * 3))
    buf = io.BytesIO()
    noise.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def test_a_5_mb_png_is_identified_from_a_few_bytes(big_png):
    assert len(big_png) >= 5_000_000
    reader = CountingReader(big_png)
    info = inspect_image(reader, len(big_png))
    assert (info.width, info.height) == (1300, 1300)
    assert reader.bytes_read < 1024
    assert all(end - start < 64 * 1024 for start, end in reader.calls)


def test_a_multi_megabyte_jpeg_is_identified_from_small_ranges(big_jpeg):
    assert len(big_jpeg) >= 2_000_000
    reader = CountingReader(big_jpeg)
    info = inspect_image(reader, len(big_jpeg))
    assert (info.width, info.height) == (1800, 1800)
    assert reader.bytes_read <= 70 * 1024
    assert all(end - start < 64 * 1024 for start, end in reader.calls)
