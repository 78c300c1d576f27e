import io
import threading
import time

import av
import numpy as np
import pytest
from PIL import Image

from highway_sim.video import OutputFormat, RenderCancelled, output_format, output_size, render_mp4

PREVIEW = output_format("Standard", False)

RED, BLUE = (220, 20, 20), (20, 20, 220)


def decode(data):
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        info = {"codec": stream.codec_context.name, "pix_fmt": stream.codec_context.pix_fmt,
                    "size": (stream.width, stream.height), "fps": float(stream.average_rate),
                    "duration": float(stream.duration * stream.time_base)}
    return info, frames


def stripes(width, height):
    image = Image.new("RGB", (width, height), (230, 230, 230))
    for x in range(0, width, 30):
        image.paste((10, 10, 10), (x, 0, x + 15, height))
    return image


@pytest.mark.parametrize("image_size, height, expected", [
    ((1280, 720), 720, (1280, 720)), ((1000, 1000), 1080, (1080, 1080)), ((750, 300), 720, (1800, 720)),
])
def test_output_size_keeps_aspect_with_even_sides(image_size, height, expected):
    assert output_size(image_size, height) == expected


@pytest.mark.parametrize("image_size, expected", [
    ((1920, 1080), (480, 270)), ((1080, 1920), (270, 480)), ((300, 750), (192, 480)), ((750, 300), (480, 192)),
    ((640, 480), (480, 360)), ((1000, 1000), (480, 480)),
])
def test_the_preview_is_480_px_on_the_long_side_whatever_the_shape(image_size, expected):
    assert PREVIEW.size(image_size) == expected


def test_output_formats():
    assert PREVIEW == output_format("Professional", False) == OutputFormat(fps=15, long_side=480)
    assert output_format("Standard", True) == OutputFormat(fps=30, height=720)
    assert output_format("Professional", True) == OutputFormat(fps=30, height=1080)


@pytest.mark.parametrize("duration", [5, 10])
def test_small_render_is_h264_of_the_exact_duration(duration):
    info, frames = decode(render_mp4(stripes(640, 360), None, duration, PREVIEW))
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["size"] == (480, 270) and info["fps"] == 15
    assert info["duration"] == pytest.approx(duration, abs=0.2)
    assert len(frames) == duration * 15


def test_a_preview_stays_quick_to_render():
    image = stripes(1280, 720)
    render_mp4(image, None, 5, PREVIEW)  # warm up the encoder
    started = time.perf_counter()
    render_mp4(image, None, 10, PREVIEW)
    assert time.perf_counter() - started < 3.0  # about 0.3 s on a 2-core machine


def test_ken_burns_moves_the_picture():
    _info, frames = decode(render_mp4(stripes(640, 360), None, 5, PREVIEW))
    first, last = frames[0].astype(int), frames[-1].astype(int)
    assert np.abs(first - last).mean() > 10


def test_cross_fade_goes_from_start_to_end_frame():
    start, end = Image.new("RGB", (640, 360), RED), Image.new("RGB", (500, 400), BLUE)
    _info, frames = decode(render_mp4(start, end, 5, PREVIEW))
    first, middle, last = (frames[i].reshape(-1, 3).mean(axis=0) for i in (0, 48, -1))
    assert first[0] > 200 and first[2] < 40
    assert last[2] > 200 and last[0] < 40
    assert 60 < middle[0] < 180 and 60 < middle[2] < 180  # both visible half-way through the fade


def test_full_size_standard_is_720p_at_30_fps():
    info, frames = decode(render_mp4(Image.new("RGB", (1600, 900), RED), None, 5, OutputFormat(fps=30, height=720)))
    assert info["size"] == (1280, 720) and info["fps"] == 30
    assert info["duration"] == pytest.approx(5, abs=0.2) and len(frames) == 150


def test_cancel_stops_the_render():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RenderCancelled):
        render_mp4(Image.new("RGB", (640, 360)), None, 5, PREVIEW, cancel)


def test_exif_rotation_is_applied():
    image = Image.new("RGB", (640, 360), RED)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90: the picture is really portrait
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    info, _ = decode(render_mp4(Image.open(io.BytesIO(buffer.getvalue())), None, 5, PREVIEW))
    assert info["size"] == (270, 480)
