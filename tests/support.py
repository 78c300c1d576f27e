"""Helpers the tests share (tests/ is on the import path; see pyproject's pytest settings)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "functions" / "i2v" / "contracts" / "notification-v1.schema.json"
I2V = Path(sys.executable).parent / "i2v"


def image_bytes(width: int = 640, height: int = 480, fmt: str = "PNG", color=(200, 80, 40)) -> bytes:
    img = Image.new("RGB", (width, height), color)
    for x in range(0, width, 40):  # some structure so encoders have something to do
        for y in range(0, height, 40):
            img.putpixel((x, y), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def video_info(path: Path) -> dict:
    """Open an MP4 with a real decoder and report its video stream."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        duration = float(container.duration) / 1_000_000 if container.duration else None
        return {"format": container.format.name, "codec": stream.codec_context.name, "width": stream.width,
                "height": stream.height, "frames": frames, "duration": duration}
