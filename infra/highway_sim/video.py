"""MP4 rendering: a slow Ken Burns zoom over the start frame, cross-fading to the end frame.

The pipeline only needs a real, decodable H.264 MP4 of the requested duration; motion makes
the frames differ so a broken copy (truncated, wrong file) shows up when someone looks.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import av
from PIL import Image, ImageOps

PREVIEW_LONG_SIDE = 480  # the default preview: big enough to judge the motion, quick to encode
PREVIEW_FPS = 15
FULL_FPS = 30
FULL_HEIGHT = {"Standard": 720, "Professional": 1080}
ZOOM = 1.15  # scale reached at the end of the Ken Burns move
FADE_START = 0.3  # fraction of the clip after which the end frame fades in
_PREVIEW_OVERSAMPLE = 1.5  # preview frames: keep extra source detail, it costs little


class RenderCancelled(Exception):
    """The server is stopping or was reset; the half-made video is not wanted."""


@dataclass(frozen=True)
class OutputFormat:
    """What to render: full size (frames ``height`` px tall) or a preview (longer side ``long_side`` px)."""

    fps: int
    height: int | None = None
    long_side: int | None = None

    @property
    def is_preview(self) -> bool:
        return self.height is None

    def size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        if self.height is not None:
            return output_size(image_size, self.height)
        width, height = image_size
        if width >= height:
            return _even(self.long_side), _even(self.long_side * height / width)
        return _even(self.long_side * width / height), _even(self.long_side)


def output_format(mode: str, full_size: bool) -> OutputFormat:
    """What the simulator renders for a mode: 720p/1080p at 30 fps, else a preview of any mode."""
    if full_size:
        return OutputFormat(fps=FULL_FPS, height=FULL_HEIGHT[mode])
    return OutputFormat(fps=PREVIEW_FPS, long_side=PREVIEW_LONG_SIDE)


def output_size(image_size: tuple[int, int], height: int) -> tuple[int, int]:
    """Frame size of the given height keeping the image's aspect; even sides for yuv420p."""
    width, image_height = image_size
    return _even(height * width / image_height), height - height % 2


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def render_mp4(start: Image.Image, end: Image.Image | None, duration: int, fmt: OutputFormat,
               cancel: threading.Event | None = None) -> bytes:
    """Encode ``duration`` seconds of H.264/yuv420p in ``fmt``; raises RenderCancelled."""
    start = ImageOps.exif_transpose(start).convert("RGB")
    size = fmt.size(start.size)
    fps = fmt.fps
    count = duration * fps
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for frame in _frames(start, end, size, count, _PREVIEW_OVERSAMPLE if fmt.is_preview else 1.0):
            if cancel is not None and cancel.is_set():
                raise RenderCancelled()
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def _frames(start: Image.Image, end: Image.Image | None, size: tuple[int, int],
            count: int, over: float) -> Iterator[Image.Image]:
    # full-size frames zoom from a source at output size: resizing dominates the render time
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
