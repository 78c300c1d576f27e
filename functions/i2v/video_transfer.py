"""Copy the finished video from the provider's URL into S3: streamed, capped, checked.

Memory stays bounded whatever the video size: the response body is read in chunks by the S3
transfer manager. Every redirect hop is checked against the URL policy.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urljoin

import requests

from i2v.errors import JobError, VideoTransferError
from i2v.safe_url import UrlPolicy

CHUNK = 1024 * 1024
MAX_REDIRECTS = 5
VIDEO_TYPES = ("video/mp4", "application/octet-stream", "binary/octet-stream", "video/quicktime")


class VideoUnavailable(JobError):
    code = "VIDEO_NOT_FOUND"
    stage = "store"


class CappedStream:
    """A file-like view of the response body that enforces the size cap and checks the MP4 box."""

    def __init__(self, response: requests.Response, max_bytes: int, expected: int | None = None) -> None:
        self._raw = response.raw
        self._max = max_bytes
        self._expected = expected
        self._encoded = bool(response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity"))
        self.bytes_read = 0
        self._checked = False

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._raw.read(CHUNK if size is None or size < 0 else size, decode_content=True)
        except Exception as exc:  # urllib3 ProtocolError, ReadTimeout, IncompleteRead ...
            raise VideoTransferError(f"the video download broke after {self.bytes_read} bytes "
                                     f"({type(exc).__name__})") from None
        if not data:  # end of body: refuse to complete the upload of a short or empty video
            if self.bytes_read == 0:
                raise VideoTransferError("the video download was empty")
            on_wire = self._raw.tell() if self._encoded else self.bytes_read
            if self._expected is not None and on_wire != self._expected:
                raise VideoTransferError(f"the video download ended after {on_wire} of "
                                         f"{self._expected} bytes")
            return data
        if not self._checked:
            self._checked = True
            if len(data) >= 8 and data[4:8] not in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
                raise JobError("the provider's video is not an MP4 file (no ISO media box at its start)",
                               code="VIDEO_INVALID", stage="store")
        self.bytes_read += len(data)
        if self.bytes_read > self._max:
            raise JobError(f"the video is larger than the {self._max} byte cap (I2V_MAX_VIDEO_BYTES)",
                           code="VIDEO_TOO_LARGE", stage="store")
        return data


def open_video(url: str, policy: UrlPolicy, session: requests.Session,
               timeout: tuple[float, float] = (5.0, 60.0)) -> requests.Response:
    """GET the video, following redirects by hand so each hop passes the URL policy."""
    for _hop in range(MAX_REDIRECTS + 1):
        policy.check(url)
        try:
            response = session.get(url, stream=True, allow_redirects=False, timeout=timeout,
                                   headers={"Accept-Encoding": "identity"})
        except requests.RequestException as exc:
            raise VideoTransferError(f"could not download the video ({type(exc).__name__})") from None
        if response.is_redirect:
            location = response.headers.get("Location", "")
            response.close()
            url = urljoin(url, location)
            continue
        if response.status_code in (403, 404, 410):
            response.close()
            raise VideoUnavailable(f"the provider's video URL answered {response.status_code}: it has expired "
                                   "or the video is missing", code="VIDEO_URL_EXPIRED"
                                   if response.status_code in (403, 410) else "VIDEO_NOT_FOUND")
        if response.status_code >= 500 or response.status_code == 429:
            response.close()
            raise VideoTransferError(f"the video host answered {response.status_code}")
        if response.status_code != 200:
            response.close()
            raise VideoUnavailable(f"the video URL answered {response.status_code}; expected 200",
                                   code="VIDEO_DOWNLOAD_FAILED")
        content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type and content_type not in VIDEO_TYPES:
            response.close()
            raise VideoUnavailable(f"the video URL serves {content_type!r}; expected video/mp4",
                                   code="VIDEO_INVALID")
        return response
    raise VideoUnavailable(f"the video URL redirected more than {MAX_REDIRECTS} times", code="VIDEO_DOWNLOAD_FAILED")


def copy_video(url: str, policy: UrlPolicy, upload: Callable[[CappedStream], None], max_bytes: int,
               session: requests.Session | None = None) -> int:
    """Stream the video into ``upload`` (an S3 write); returns the number of bytes copied."""
    session = session or requests.Session()
    response = open_video(url, policy, session)
    with response:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise JobError(f"the video is {int(declared)} bytes, over the {max_bytes} byte cap "
                           "(I2V_MAX_VIDEO_BYTES)", code="VIDEO_TOO_LARGE", stage="store")
        stream = CappedStream(response, max_bytes, int(declared) if declared and declared.isdigit() else None)
        upload(stream)
        return stream.bytes_read
