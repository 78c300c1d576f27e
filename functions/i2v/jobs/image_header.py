"""Identify a JPEG or PNG by its bytes and read its size from the header, reading only what it needs.

The reader is a callable ``read(start, end_inclusive) -> bytes`` (an S3 ranged GET in the
Lambda, a slice of bytes in tests), so a 10 MB image is never held in memory.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from i2v.contracts.errors import ErrorCode, InvalidImage

Reader = Callable[[int, int], bytes]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
JPEG_SOI = b"\xff\xd8\xff"
# Start-of-frame markers carry the dimensions (all SOFn except DHT/JPG/DAC).
JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
MAX_JPEG_HEADER_SCAN = 1024 * 1024  # EXIF thumbnails can push the frame header back; cap the walk


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "jpeg" | "png"
    width: int
    height: int
    size_bytes: int


def _sniff(head: bytes) -> str:
    if head.startswith(PNG_SIGNATURE):
        return "png"
    if head.startswith(JPEG_SOI):
        return "jpeg"
    for magic, name in ((b"GIF8", "GIF"), (b"RIFF", "WebP"), (b"BM", "BMP"), (b"II*\x00", "TIFF"),
                        (b"MM\x00*", "TIFF"), (b"%PDF", "PDF")):
        if head.startswith(magic):
            raise InvalidImage(f"the file is a {name} image; expected JPEG or PNG",
                               code=ErrorCode.IMAGE_FORMAT_UNSUPPORTED)
    if len(head) >= 12 and head[4:8] == b"ftyp":
        raise InvalidImage("the file is a HEIC/AVIF/MP4 container; expected JPEG or PNG",
                           code=ErrorCode.IMAGE_FORMAT_UNSUPPORTED)
    raise InvalidImage("the file is not a JPEG or PNG image (unknown signature); expected JPEG or PNG",
                       code=ErrorCode.IMAGE_FORMAT_UNSUPPORTED)


def _png(read: Reader, size: int, head: bytes) -> tuple[int, int]:
    """``head`` holds the first bytes already read (the header chunk is within the first 33)."""
    if len(head) < 33:
        head = read(0, 32)
    if len(head) < 33:
        raise InvalidImage("the PNG ends inside its header; expected a complete PNG file", code=ErrorCode.IMAGE_CORRUPT)
    length, ctype = struct.unpack(">I4s", head[8:16])
    if ctype != b"IHDR" or length != 13:
        raise InvalidImage("the PNG has no IHDR header chunk; expected a valid PNG file", code=ErrorCode.IMAGE_CORRUPT)
    ihdr = head[16:29]
    crc = struct.unpack(">I", head[29:33])[0]
    if zlib.crc32(b"IHDR" + ihdr) != crc:
        raise InvalidImage("the PNG header checksum does not match (corrupt file); expected a valid PNG file", code=ErrorCode.IMAGE_CORRUPT)
    width, height = struct.unpack(">II", ihdr[:8])
    tail = read(max(0, size - 12), size - 1)
    if tail != PNG_IEND:
        raise InvalidImage("the PNG does not end with an IEND chunk (truncated or corrupt); expected a complete PNG file",
                           code=ErrorCode.IMAGE_CORRUPT)
    return width, height


def _jpeg(read: Reader, size: int) -> tuple[int, int]:
    tail = read(max(0, size - 64), size - 1)
    if b"\xff\xd9" not in tail.rstrip(b"\x00\r\n "):
        raise InvalidImage("the JPEG has no end-of-image marker (truncated or corrupt); expected a complete JPEG file",
                           code=ErrorCode.IMAGE_CORRUPT)
    pos = 2
    chunk_start, chunk = 0, b""

    def byte_range(start: int, length: int) -> bytes:
        nonlocal chunk_start, chunk
        if start < chunk_start or start + length > chunk_start + len(chunk):
            chunk_start = start
            chunk = read(start, min(size - 1, start + max(length, 65536) - 1))
        return chunk[start - chunk_start:start - chunk_start + length]

    while pos < min(size, MAX_JPEG_HEADER_SCAN):
        marker = byte_range(pos, 4)
        if len(marker) < 4 or marker[0] != 0xFF:
            raise InvalidImage("the JPEG segment structure is broken before the frame header; "
                               "expected a valid JPEG file", code=ErrorCode.IMAGE_CORRUPT)
        kind = marker[1]
        if kind == 0xFF:  # fill byte
            pos += 1
            continue
        if kind in (0xD8, 0x01) or 0xD0 <= kind <= 0xD7:
            pos += 2
            continue
        seg_len = struct.unpack(">H", marker[2:4])[0]
        if kind in JPEG_SOF:
            sof = byte_range(pos + 4, 5)
            if len(sof) < 5:
                break
            height, width = struct.unpack(">HH", sof[1:5])
            return width, height
        if kind == 0xDA or seg_len < 2:  # start of scan before any frame header
            break
        pos += 2 + seg_len
    raise InvalidImage("the JPEG has no readable frame header (dimensions); expected a valid JPEG file",
                       code=ErrorCode.IMAGE_CORRUPT)


def inspect_image(read: Reader, size: int) -> ImageInfo:
    """Format and dimensions of an image of ``size`` bytes; raises InvalidImage with a specific code."""
    if size <= 0:
        raise InvalidImage("the image file is empty (0 bytes); expected a JPEG or PNG", code=ErrorCode.IMAGE_EMPTY)
    head = read(0, min(size, 64) - 1)
    fmt = _sniff(head)
    width, height = _png(read, size, head) if fmt == "png" else _jpeg(read, size)
    if width <= 0 or height <= 0:
        raise InvalidImage(f"the {fmt.upper()} header gives a size of {width}x{height}; expected a valid image",
                           code=ErrorCode.IMAGE_CORRUPT)
    return ImageInfo(format=fmt, width=width, height=height, size_bytes=size)


def bytes_reader(data: bytes) -> Reader:
    """A reader over bytes in memory (tests, and small local files)."""
    return lambda start, end: data[start:end + 1]
