import io
import threading

import av
import numpy as np
import pytest
from PIL import Image

from highway_sim.video import RenderCancelled, output_format, output_size, render_mp4

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
    ((1920, 1080), 144, (256, 144)), ((1080, 1920), 144, (80, 144)), ((300, 750), 144, (58, 144)),
    ((1280, 720), 720, (1280, 720)), ((1000, 1000), 1080, (1080, 1080)), ((750, 300), 720, (1800, 720)),
])
def test_output_size_keeps_aspect_with_even_sides(image_size, height, expected):
    assert output_size(image_size, height) == expected


def test_output_formats():
    assert output_format("Standard", False) == (144, 10) == output_format("Professional", False)
    assert output_format("Standard", True) == (720, 30)
    assert output_format("Professional", True) == (1080, 30)


@pytest.mark.parametrize("duration", [5, 10])
def test_small_render_is_h264_of_the_exact_duration(duration):
    info, frames = decode(render_mp4(stripes(640, 360), None, duration, 144, 10))
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["size"] == (256, 144) and info["fps"] == 10
    assert info["duration"] == pytest.approx(duration, abs=0.2)
    assert len(frames) == duration * 10


def test_ken_burns_moves_the_picture():
    _info, frames = decode(render_mp4(stripes(640, 360), None, 5, 144, 10))
    first, last = frames[0].astype(int), frames[-1].astype(int)
    assert np.abs(first - last).mean() > 10


def test_cross_fade_goes_from_start_to_end_frame():
    start, end = Image.new("RGB", (640, 360), RED), Image.new("RGB", (500, 400), BLUE)
    _info, frames = decode(render_mp4(start, end, 5, 144, 10))
    first, middle, last = (frames[i].reshape(-1, 3).mean(axis=0) for i in (0, 32, -1))
    assert first[0] > 200 and first[2] < 40
    assert last[2] > 200 and last[0] < 40
    assert 60 < middle[0] < 180 and 60 < middle[2] < 180  # both visible half-way through the fade


def test_full_size_standard_is_720p_at_30_fps():
    info, frames = decode(render_mp4(Image.new("RGB", (1600, 900), RED), None, 5, 720, 30))
    assert info["size"] == (1280, 720) and info["fps"] == 30
    assert info["duration"] == pytest.approx(5, abs=0.2) and len(frames) == 150


def test_cancel_stops_the_render():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RenderCancelled):
        render_mp4(Image.new("RGB", (640, 360)), None, 5, 144, 10, cancel)


def test_exif_rotation_is_applied():
    image = Image.new("RGB", (640, 360), RED)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90: the picture is really portrait
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    info, _ = decode(render_mp4(Image.open(io.BytesIO(buffer.getvalue())), None, 5, 144, 10))
    assert info["size"] == (80, 144)
