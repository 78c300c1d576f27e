"""MP4 rendering: a slow Ken Burns zoom over the start frame, cross-fading to the end frame.

The pipeline only needs a real, decodable H.264 MP4 of the requested duration; motion makes
the frames differ so a broken copy (truncated, wrong file) shows up when someone looks.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import av
from PIL import Image, ImageOps

SMALL_HEIGHT = 144
SMALL_FPS = 10
FULL_FPS = 30
FULL_HEIGHT = {"Standard": 720, "Professional": 1080}
ZOOM = 1.15  # scale reached at the end of the Ken Burns move
FADE_START = 0.3  # fraction of the clip after which the end frame fades in
_SMALL_OVERSAMPLE = 1.5  # small frames: keep extra source detail, it costs little


class RenderCancelled(Exception):
    """The server is stopping or was reset; the half-made video is not wanted."""


def output_format(mode: str, full_size: bool) -> tuple[int, int]:
    """(height, fps) the simulator renders for a mode."""
    return (FULL_HEIGHT[mode], FULL_FPS) if full_size else (SMALL_HEIGHT, SMALL_FPS)


def output_size(image_size: tuple[int, int], height: int) -> tuple[int, int]:
    """Frame size of the given height keeping the image's aspect; even sides for yuv420p."""
    width, image_height = image_size
    out_w = max(2, round(height * width / image_height / 2) * 2)
    return out_w, height - height % 2


def render_mp4(start: Image.Image, end: Image.Image | None, duration: int, height: int, fps: int,
               cancel: threading.Event | None = None) -> bytes:
    """Encode ``duration`` seconds of H.264/yuv420p at ``fps``; raises RenderCancelled."""
    start = ImageOps.exif_transpose(start).convert("RGB")
    size = output_size(start.size, height)
    count = duration * fps
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for frame in _frames(start, end, size, count):
            if cancel is not None and cancel.is_set():
                raise RenderCancelled()
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def _frames(start: Image.Image, end: Image.Image | None, size: tuple[int, int],
            count: int) -> Iterator[Image.Image]:
    # large frames zoom from a source at output size: resizing dominates the render time
    over = _SMALL_OVERSAMPLE if size[1] <= SMALL_HEIGHT else 1.0
    start_src = ImageOps.fit(start, (int(size[0] * over), int(size[1] * over)), Image.Resampling.LANCZOS)
    closing = None
    if end is not None:
        closing = ImageOps.fit(ImageOps.exif_transpose(end).convert("RGB"), size, Image.Resampling.LANCZOS)
    for index in range(count):
        t = index / (count - 1) if count > 1 else 1.0
        eased = _smooth(t)
        # zoom in on the start frame while drifting slightly right and down
        frame = _view(start_src, size, 1.0 + (ZOOM - 1.0) * eased, 0.5 + 0.04 * eased, 0.5 + 0.03 * eased)
        if closing is not None and t > FADE_START:
            # the end frame stays still, so the last frame is exactly the requested end image
            frame = Image.blend(frame, closing, _smooth((t - FADE_START) / (1.0 - FADE_START)))
        yield frame


def _view(source: Image.Image, size: tuple[int, int], zoom: float, cx: float, cy: float) -> Image.Image:
    """The part of ``source`` seen at ``zoom`` around centre (cx, cy), resized to ``size``."""
    sw, sh = source.size
    bw, bh = sw / zoom, sh / zoom
    left = min(max(cx * sw - bw / 2, 0.0), sw - bw)
    top = min(max(cy * sh - bh / 2, 0.0), sh - bh)
    return source.resize(size, Image.Resampling.BILINEAR, box=(left, top, left + bw, top + bh))


def _smooth(t: float) -> float:
    t = min(max(t, 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)
