"""Copy the finished video from the provider's URL into S3: streamed, capped, checked.

Memory stays bounded whatever the video size: the response body is read in chunks by the S3
transfer manager. Every redirect hop is checked against the URL policy.

No hop is fetched by name. The policy resolves the host and checks every address; the request
then goes to one of those addresses (the URL's host replaced by the address), with the name kept
where it belongs: the Host header, the TLS server name (SNI) and the certificate check. Nothing
on the fetch path resolves the name again, so DNS rebinding between the check and the connection
cannot reach an address that was not checked. ``PinnedAdapter`` carries the name into TLS and
refuses any request whose host is not an address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from i2v import constants as c
from i2v.connection import nothing_sent
from i2v.contracts.errors import ErrorCode, JobError
from i2v.contracts.status import Stage
from i2v.errors import VideoTransferError
from i2v.safe_url import UnsafeUrl, UrlPolicy

CHUNK = 1024 * 1024
MAX_REDIRECTS = 5
MAX_ADDRESSES = 3  # checked addresses tried in turn when a connection cannot be made
VIDEO_TYPES = ("video/mp4", "application/octet-stream", "binary/octet-stream", "video/quicktime")


class Readable(Protocol):
    """What an upload reads from: a file-like object (the video stream here, S3's transfer on the other side)."""

    def read(self, size: int = -1) -> bytes: ...


class VideoUnavailable(JobError):
    code = ErrorCode.VIDEO_NOT_FOUND
    stage = Stage.STORE


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _host_name(authority: str) -> str:
    """The host of a Host header value (``name``, ``name:port``, ``[v6]:port``), without the port."""
    if authority.startswith("["):
        return authority[1:].split("]", 1)[0]
    return authority.rsplit(":", 1)[0] if ":" in authority else authority


class PinnedAdapter(HTTPAdapter):
    """Sends only to an address literal (never resolves a name) and, for https, speaks TLS as the
    host named in the Host header: that name is the SNI server name and the name the certificate
    is verified against (verification stays on).

    ``server_hostname`` is the pool setting for that: urllib3 sends it as SNI and, with the
    default context's ``check_hostname``, OpenSSL matches the certificate to it. (Setting
    ``assert_hostname`` as well would switch ``check_hostname`` off on the context in favour of
    urllib3's own match; not needed, and the context might be shared.) Both are part of urllib3's
    pool key, so a pool made for one name is never reused for another on the same address.
    """

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: str | tuple[str, str] | None = None
    ) -> tuple[Any, Any]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host = str(host_params.get("host") or "")
        if _ip(host) is None:
            raise requests.exceptions.InvalidURL(
                f"refusing to look up {host!r}: video requests go to an address the URL policy checked")
        name = _host_name(str(request.headers.get("Host") or ""))
        if host_params.get("scheme") == "https" and name and _ip(name) is None:
            pool_kwargs["server_hostname"] = name  # type: ignore[typeddict-unknown-key]
        return host_params, pool_kwargs


def pinned_session() -> requests.Session:
    """A session for open_video: http and https through PinnedAdapter, no retries, and no proxy or
    other settings from the environment (the connection goes to the checked address itself)."""
    session = requests.Session()
    session.trust_env = False
    for prefix in ("http://", "https://"):
        session.mount(prefix, PinnedAdapter(max_retries=0))
    return session


def pin(url: str, address: str) -> tuple[str, str]:
    """(the URL with its host replaced by ``address``, the Host header naming the original host)."""
    parts = urlsplit(url)
    name = parts.hostname or ""
    ip = _ip(name)
    if ip is not None:
        name = f"[{ip}]" if ip.version == 6 else str(ip)
    elif not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise UnsafeUrl("the video URL's host is not a valid domain name") from None
    port = f":{parts.port}" if parts.port is not None else ""
    target = ipaddress.ip_address(address.split("%", 1)[0])
    literal = f"[{target}]" if target.version == 6 else str(target)
    return urlunsplit(parts._replace(netloc=literal + port)), name + port


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
            data: bytes = self._raw.read(CHUNK if size is None or size < 0 else size, decode_content=True)
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
                               code=ErrorCode.VIDEO_INVALID, stage=Stage.STORE)
        self.bytes_read += len(data)
        if self.bytes_read > self._max:
            raise JobError(f"the video is larger than the {self._max} byte cap (I2V_MAX_VIDEO_BYTES)",
                           code=ErrorCode.VIDEO_TOO_LARGE, stage=Stage.STORE)
        return data


def _get(url: str, addresses: list[str], session: requests.Session,
         timeout: tuple[float, float]) -> requests.Response:
    """GET ``url`` from the first of its checked ``addresses`` that takes the connection."""
    tried = addresses[:MAX_ADDRESSES]
    for index, address in enumerate(tried):
        target, host = pin(url, address)
        try:
            return session.get(target, stream=True, allow_redirects=False, timeout=timeout,
                               headers={"Host": host, "Accept-Encoding": "identity"})
        except requests.RequestException as exc:
            if index + 1 < len(tried) and nothing_sent(exc):
                continue
            raise VideoTransferError(f"could not download the video ({type(exc).__name__})") from None
    raise VideoTransferError("could not download the video (no address to connect to)")


def open_video(url: str, policy: UrlPolicy, session: requests.Session,
               timeout: tuple[float, float] = (c.HTTP_CONNECT_SECONDS, c.VIDEO_READ_SECONDS)) -> requests.Response:
    """GET the video, following redirects by hand: each hop passes the URL policy and is fetched
    from an address the policy checked (``session`` should come from ``pinned_session``)."""
    for _hop in range(MAX_REDIRECTS + 1):
        response = _get(url, policy.check(url), session, timeout)
        if response.is_redirect:
            location = response.headers.get("Location", "")
            response.close()
            url = urljoin(url, location)  # against the URL as named, not the address it came from
            continue
        if response.status_code in (403, 404, 410):
            response.close()
            raise VideoUnavailable(f"the provider's video URL answered {response.status_code}: it has expired "
                                   "or the video is missing", code=ErrorCode.VIDEO_URL_EXPIRED
                                   if response.status_code in (403, 410) else "VIDEO_NOT_FOUND")
        if response.status_code >= 500 or response.status_code == 429:
            response.close()
            raise VideoTransferError(f"the video host answered {response.status_code}")
        if response.status_code != 200:
            response.close()
            raise VideoUnavailable(f"the video URL answered {response.status_code}; expected 200",
                                   code=ErrorCode.VIDEO_DOWNLOAD_FAILED)
        content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type and content_type not in VIDEO_TYPES:
            response.close()
            raise VideoUnavailable(f"the video URL serves {content_type!r}; expected video/mp4",
                                   code=ErrorCode.VIDEO_INVALID)
        return response
    raise VideoUnavailable(f"the video URL redirected more than {MAX_REDIRECTS} times", code=ErrorCode.VIDEO_DOWNLOAD_FAILED)


def copy_video(url: str, policy: UrlPolicy, upload: Callable[[Readable], None], max_bytes: int,
               session: requests.Session | None = None) -> int:
    """Stream the video into ``upload`` (an S3 write); returns the number of bytes copied."""
    session = session or pinned_session()
    response = open_video(url, policy, session)
    with response:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise JobError(f"the video is {int(declared)} bytes, over the {max_bytes} byte cap "
                           "(I2V_MAX_VIDEO_BYTES)", code=ErrorCode.VIDEO_TOO_LARGE, stage=Stage.STORE)
        stream = CappedStream(response, max_bytes, int(declared) if declared and declared.isdigit() else None)
        upload(stream)
        return stream.bytes_read
