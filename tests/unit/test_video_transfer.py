"""Copy the video from the provider's URL into the bucket, streamed and checked (i2v.video_transfer)."""

from __future__ import annotations

import io

import pytest
import requests
from urllib3.exceptions import ReadTimeoutError

from i2v.errors import JobError, VideoTransferError
from i2v.safe_url import UnsafeUrl, UrlPolicy
from i2v.video_transfer import copy_video

URL = "https://cdn.example.com/videos/t1.mp4?sig=abc"
DNS = {
    "cdn.example.com": ["93.184.216.34"],
    "other-cdn.example.com": ["93.184.216.35"],
    "internal.example.com": ["10.0.0.8"],
}
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(range(256)) * 4000  # ~1 MB


def mp4(size: int) -> bytes:
    return (MP4 * (size // len(MP4) + 1))[:size]


class Upload:
    """Reads the stream to its end like a multipart upload; keeps the object only when complete."""

    def __init__(self) -> None:
        self.completed: bytes | None = None
        self.read_sizes: list[int] = []

    def __call__(self, stream) -> None:
        parts = []
        while True:
            chunk = stream.read(256 * 1024)
            if not chunk:
                break
            self.read_sizes.append(len(chunk))
            parts.append(chunk)
        self.completed = b"".join(parts)


class BreaksAfter(io.RawIOBase):
    """A body that delivers ``good`` bytes and then the connection resets."""

    def __init__(self, good: bytes) -> None:
        self.good = io.BytesIO(good)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.good.read(len(buffer))
        if not data:
            raise ConnectionResetError(104, "Connection reset by peer")
        buffer[: len(data)] = data
        return len(data)


@pytest.fixture
def policy() -> UrlPolicy:
    return UrlPolicy("public-https", "https://api.highwayapi.ai", resolver=lambda host: DNS[host])


@pytest.fixture
def run(fakes, policy):
    """run(*replies, max_bytes=...) -> (bytes copied, upload, transport)."""

    def go(*replies, max_bytes: int = 50 * 1024 * 1024):
        transport = fakes.Transport(*replies)
        upload = Upload()
        copied = copy_video(URL, policy, upload, max_bytes, session=fakes.session_with(transport))
        return copied, upload, transport

    return go


@pytest.fixture
def Reply(fakes):
    return fakes.Reply


def video(Reply, body: bytes, content_type: str | None = "video/mp4", length: bool = True, **headers):
    h = dict(headers)
    if content_type:
        h["Content-Type"] = content_type
    if length:
        h["Content-Length"] = str(len(body))
    return Reply(200, body, h)


def test_the_video_streams_into_the_upload(run, Reply):
    body = mp4(3 * 1024 * 1024)
    copied, upload, transport = run(video(Reply, body))
    assert copied == len(body)
    assert upload.completed == body
    assert max(upload.read_sizes) <= 1024 * 1024  # streamed in bounded chunks, never whole
    assert len(upload.read_sizes) > 1
    assert transport.sent[0].url == URL


@pytest.mark.parametrize(
    "content_type",
    ["video/mp4", "application/octet-stream", "binary/octet-stream", "video/mp4; codecs=avc1", None],
)
def test_acceptable_content_types(run, Reply, content_type):
    copied, _upload, _ = run(video(Reply, mp4(5000), content_type))
    assert copied == 5000


def test_a_body_without_a_length_is_copied(run, Reply):
    copied, upload, _ = run(video(Reply, mp4(70_000), length=False))
    assert copied == 70_000 and upload.completed == mp4(70_000)


@pytest.mark.parametrize("content_type", ["text/html", "application/json", "image/png"])
def test_a_wrong_content_type_is_refused(run, Reply, content_type):
    with pytest.raises(JobError) as info:
        run(video(Reply, b"<html>expired</html>", content_type))
    assert info.value.code == "VIDEO_INVALID"
    assert content_type in info.value.message


def test_bytes_that_are_not_mp4_are_refused_before_the_upload_completes(run, Reply, fakes):
    upload = Upload()
    transport = fakes.Transport(video(Reply, b"<html><body>Access denied</body></html>" * 10))
    with pytest.raises(JobError) as info:
        copy_video(
            URL,
            UrlPolicy("public-https", "x", resolver=lambda h: DNS[h]),
            upload,
            10**9,
            session=fakes.session_with(transport),
        )
    assert info.value.code == "VIDEO_INVALID" and info.value.stage == "store"
    assert upload.completed is None


def test_a_declared_size_over_the_cap_is_refused_before_reading(fakes, policy, Reply):
    upload = Upload()
    transport = fakes.Transport(video(Reply, mp4(2000)))
    with pytest.raises(JobError) as info:
        copy_video(URL, policy, upload, 1000, session=fakes.session_with(transport))
    assert info.value.code == "VIDEO_TOO_LARGE"
    assert "2000" in info.value.message and "1000" in info.value.message
    assert upload.completed is None and upload.read_sizes == []


def test_an_actual_size_over_the_cap_is_refused_while_streaming(fakes, policy, Reply):
    upload = Upload()
    transport = fakes.Transport(video(Reply, mp4(3 * 1024 * 1024), length=False))
    with pytest.raises(JobError) as info:
        copy_video(URL, policy, upload, 1024 * 1024 + 10, session=fakes.session_with(transport))
    assert info.value.code == "VIDEO_TOO_LARGE"
    assert upload.completed is None


def test_a_short_body_fails_before_the_upload_completes(fakes, policy, Reply):
    upload = Upload()
    body = mp4(600_000)
    transport = fakes.Transport(
        Reply(200, body[:250_000], {"Content-Type": "video/mp4", "Content-Length": str(len(body))})
    )
    with pytest.raises(VideoTransferError):
        copy_video(URL, policy, upload, 10**9, session=fakes.session_with(transport))
    assert upload.completed is None


def test_a_reset_mid_stream_fails_before_the_upload_completes(fakes, policy, Reply):
    upload = Upload()
    transport = fakes.Transport(Reply(200, BreaksAfter(mp4(300_000)), {"Content-Type": "video/mp4"}))
    with pytest.raises(VideoTransferError) as info:
        copy_video(URL, policy, upload, 10**9, session=fakes.session_with(transport))
    assert "broke after" in str(info.value)
    assert upload.completed is None


def test_an_empty_body_fails(run, Reply):
    with pytest.raises(VideoTransferError, match="empty"):
        run(video(Reply, b""))


@pytest.mark.parametrize(
    "status, code",
    [
        (404, "VIDEO_NOT_FOUND"),
        (403, "VIDEO_URL_EXPIRED"),
        (410, "VIDEO_URL_EXPIRED"),
        (400, "VIDEO_DOWNLOAD_FAILED"),
    ],
)
def test_final_http_errors(run, Reply, status, code):
    with pytest.raises(JobError) as info:
        run(Reply(status, b"<Error/>", {"Content-Type": "application/xml"}))
    assert info.value.code == code
    assert info.value.stage == "store"
    assert str(status) in info.value.message


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_http_errors_are_retried_by_the_workflow(run, Reply, status):
    with pytest.raises(VideoTransferError):
        run(Reply(status, b""))


def test_a_timeout_is_transient(run):
    def timeout(request):
        return requests.ReadTimeout(ReadTimeoutError(None, URL, "Read timed out."), request=request)

    with pytest.raises(VideoTransferError):
        run(timeout)


def test_redirects_are_followed_and_each_hop_checked(run, Reply):
    body = mp4(10_000)
    _copied, upload, transport = run(
        Reply(302, b"", {"Location": "https://other-cdn.example.com/v.mp4"}),
        Reply(307, b"", {"Location": "/v2.mp4"}),
        video(Reply, body),
    )
    assert upload.completed == body
    assert [s.url for s in transport.sent] == [
        URL,
        "https://other-cdn.example.com/v.mp4",
        "https://other-cdn.example.com/v2.mp4",
    ]


@pytest.mark.parametrize(
    "location",
    [
        "https://internal.example.com/v.mp4",
        "https://169.254.169.254/latest/",
        "http://cdn.example.com/v.mp4",
        "https://127.0.0.1/v.mp4",
    ],
)
def test_a_redirect_to_an_unsafe_address_is_refused_before_it_is_fetched(run, Reply, fakes, policy, location):
    transport = fakes.Transport(Reply(302, b"", {"Location": location}))
    with pytest.raises(UnsafeUrl):
        copy_video(URL, policy, Upload(), 10**9, session=fakes.session_with(transport))
    assert len(transport.sent) == 1


def test_an_unsafe_first_url_is_never_fetched(fakes, policy):
    transport = fakes.Transport()
    with pytest.raises(UnsafeUrl):
        copy_video(
            "https://internal.example.com/v.mp4",
            policy,
            Upload(),
            10**9,
            session=fakes.session_with(transport),
        )
    assert transport.sent == []


def test_too_many_redirects(run, Reply):
    loop = [Reply(302, b"", {"Location": URL}) for _ in range(6)]
    with pytest.raises(JobError) as info:
        run(*loop)
    assert info.value.code == "VIDEO_DOWNLOAD_FAILED"


def test_a_compressed_reply_is_copied(run, Reply):
    import gzip

    body = mp4(50_000)
    packed = gzip.compress(body)
    _copied, upload, _ = run(
        Reply(
            200,
            packed,
            {"Content-Type": "video/mp4", "Content-Encoding": "gzip", "Content-Length": str(len(packed))},
        )
    )
    assert upload.completed == body
