"""Copy the video from the provider's URL into the bucket, streamed and checked (i2v.video_transfer)."""

from __future__ import annotations

import io
import ipaddress

import pytest
import requests
from urllib3.exceptions import ReadTimeoutError

from i2v.errors import VideoTransferError
from i2v.safe_url import UnsafeUrl, UrlPolicy
from i2v.video_transfer import copy_video

try:
    from i2v.contracts.errors import JobError
except ImportError:  # before JobError moved to i2v.contracts (a refactor under way in parallel)
    from i2v.errors import JobError  # type: ignore[no-redef]

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
    # sent to the address the policy checked, naming the host it was checked for
    assert transport.sent[0].url == "https://93.184.216.34/videos/t1.mp4?sig=abc"
    assert transport.sent[0].headers["Host"] == "cdn.example.com"


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
    assert [(s.url, s.headers["Host"]) for s in transport.sent] == [
        ("https://93.184.216.34/videos/t1.mp4?sig=abc", "cdn.example.com"),
        ("https://93.184.216.35/v.mp4", "other-cdn.example.com"),
        ("https://93.184.216.35/v2.mp4", "other-cdn.example.com"),  # relative: against the name, not the address
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


# --- DNS rebinding: the fetch connects to the address that was checked ----------------------------


class Rebinding:
    """A DNS answer that changes between lookups: a public address first, then a private one."""

    def __init__(self, first: str = "93.184.216.34", then: str = "10.0.0.8") -> None:
        self.first, self.then = first, then
        self.asked: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        return [self.first if len(self.asked) == 1 else self.then]


@pytest.fixture
def lookups(monkeypatch) -> list[tuple]:
    """Every call of the system resolver (socket.getaddrinfo): there must be none on the fetch path."""
    import socket

    calls: list[tuple] = []

    def getaddrinfo(*args, **kwargs):
        calls.append(args)
        raise AssertionError(f"the fetch path looked up {args[0]!r} again")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


def test_a_rebinding_answer_after_the_check_is_never_used(fakes, Reply, lookups):
    resolver = Rebinding()
    policy = UrlPolicy("public-https", "https://api.highwayapi.ai", resolver=resolver)
    transport = fakes.Transport(video(Reply, mp4(5000)))
    upload = Upload()
    copy_video("https://cdn.example.com/v.mp4", policy, upload, 10**9, session=fakes.session_with(transport))
    assert upload.completed == mp4(5000)
    assert resolver.asked == ["cdn.example.com"]  # resolved once, for the check
    [sent] = transport.sent
    assert sent.url == "https://93.184.216.34/v.mp4"  # the checked address, not 10.0.0.8
    assert sent.headers["Host"] == "cdn.example.com"
    assert lookups == []


def test_every_redirect_hop_is_resolved_checked_and_pinned_again(fakes, Reply, lookups):
    """The same host on the next hop answers a private address now: refused before it is fetched."""
    resolver = Rebinding()
    policy = UrlPolicy("public-https", "https://api.highwayapi.ai", resolver=resolver)
    transport = fakes.Transport(Reply(302, b"", {"Location": "/v2.mp4"}))
    with pytest.raises(UnsafeUrl, match="10.0.0.8"):
        copy_video("https://cdn.example.com/v.mp4", policy, Upload(), 10**9, session=fakes.session_with(transport))
    assert resolver.asked == ["cdn.example.com", "cdn.example.com"]
    assert [s.url for s in transport.sent] == ["https://93.184.216.34/v.mp4"]
    assert lookups == []


def _refused(request):
    from urllib3.connection import HTTPSConnection
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    reason = NewConnectionError(HTTPSConnection("93.184.216.34", 443), "[Errno 101] Network is unreachable")
    return requests.ConnectionError(MaxRetryError(None, request.path_url, reason), request=request)


def test_the_next_checked_address_is_tried_when_one_cannot_be_reached(fakes, Reply):
    policy = UrlPolicy("public-https", "x", resolver=lambda host: ["2606:2800:220:1::1", "93.184.216.34"])
    transport = fakes.Transport(_refused, video(Reply, mp4(3000)))
    copied = copy_video(URL, policy, Upload(), 10**9, session=fakes.session_with(transport))
    assert copied == 3000
    assert [(s.url, s.headers["Host"]) for s in transport.sent] == [
        ("https://[2606:2800:220:1::1]/videos/t1.mp4?sig=abc", "cdn.example.com"),
        ("https://93.184.216.34/videos/t1.mp4?sig=abc", "cdn.example.com"),
    ]


def test_a_failure_after_connecting_is_not_tried_on_another_address(fakes):
    def timeout(request):
        return requests.ReadTimeout(ReadTimeoutError(None, URL, "Read timed out."), request=request)

    policy = UrlPolicy("public-https", "x", resolver=lambda host: ["93.184.216.34", "93.184.216.35"])
    transport = fakes.Transport(timeout)
    with pytest.raises(VideoTransferError):
        copy_video(URL, policy, Upload(), 10**9, session=fakes.session_with(transport))
    assert len(transport.sent) == 1


@pytest.mark.parametrize(
    "url, address, pinned, host",
    [
        ("https://cdn.example.com/a/v.mp4?sig=1#x", "93.184.216.34", "https://93.184.216.34/a/v.mp4?sig=1#x",
         "cdn.example.com"),
        ("https://CDN.Example.com:8443/v.mp4", "93.184.216.34", "https://93.184.216.34:8443/v.mp4",
         "cdn.example.com:8443"),
        ("https://cdn.example.com/v.mp4", "2606:2800:220:1::1", "https://[2606:2800:220:1::1]/v.mp4",
         "cdn.example.com"),
        ("http://127.0.0.1:8765/videos/t.mp4", "127.0.0.1", "http://127.0.0.1:8765/videos/t.mp4", "127.0.0.1:8765"),
        ("http://[::1]:8765/t.mp4", "::1", "http://[::1]:8765/t.mp4", "[::1]:8765"),
        ("https://bücher.example/v.mp4", "93.184.216.34", "https://93.184.216.34/v.mp4", "xn--bcher-kva.example"),
    ],
)
def test_pin_puts_the_address_in_the_url_and_the_name_in_the_host_header(url, address, pinned, host):
    from i2v.video_transfer import pin

    assert pin(url, address) == (pinned, host)


# --- PinnedAdapter: address in the URL, name in TLS ----------------------------------------------


def _prepared(url: str, host: str | None = None) -> requests.PreparedRequest:
    return requests.Request("GET", url, headers={"Host": host} if host else {}).prepare()


def test_the_adapter_connects_to_the_address_and_speaks_tls_as_the_name(lookups):
    from i2v.video_transfer import PinnedAdapter

    adapter = PinnedAdapter()
    pool = adapter.get_connection_with_tls_context(
        _prepared("https://93.184.216.34/v.mp4", "cdn.example.com"), verify=True)
    assert (pool.scheme, pool.host, pool.port) == ("https", "93.184.216.34", 443)
    assert pool.conn_kw["server_hostname"] == "cdn.example.com"  # SNI and the certificate's name
    assert pool.cert_reqs == "CERT_REQUIRED"  # verification stays on
    assert pool.assert_hostname is None  # so the context's own hostname check stays on too
    other = adapter.get_connection_with_tls_context(
        _prepared("https://93.184.216.34/v.mp4", "other.example.com"), verify=True)
    assert other is not pool  # one pool per (address, name): never a connection made for another name
    assert lookups == []


def test_the_adapter_leaves_plain_http_and_address_hosts_alone():
    from i2v.video_transfer import PinnedAdapter

    adapter = PinnedAdapter()
    pool = adapter.get_connection_with_tls_context(_prepared("http://127.0.0.1:8765/v.mp4", "127.0.0.1:8765"),
                                                   verify=True)
    assert (pool.host, pool.port) == ("127.0.0.1", 8765)
    assert "server_hostname" not in pool.conn_kw
    pool = adapter.get_connection_with_tls_context(_prepared("https://93.184.216.34/v.mp4", "93.184.216.34"),
                                                   verify=True)
    assert "server_hostname" not in pool.conn_kw


def test_the_pinned_session_refuses_to_look_a_name_up(lookups):
    from i2v.video_transfer import pinned_session

    with pytest.raises(requests.exceptions.InvalidURL, match="refusing to look up"):
        pinned_session().get("https://cdn.example.com/v.mp4", timeout=1)
    assert lookups == []


# --- over real sockets, on 127.0.0.1 only ---------------------------------------------------------


class CheckedAs(UrlPolicy):
    """A policy that has checked every host and found ``addresses`` (the check itself is tested in
    test_safe_url): lets a loopback server stand in for a public video host."""

    def __init__(self, *addresses: str) -> None:
        super().__init__("public-https", "https://api.highwayapi.ai")
        self.addresses = list(addresses)
        self.checked: list[str] = []

    def check(self, url: str) -> list[str]:
        self.checked.append(url)
        return list(self.addresses)


@pytest.fixture
def loopback(monkeypatch):
    """Sockets to 127.0.0.1 only; the system resolver answers 10.66.0.1 (a rebinding answer that
    pytest-socket would block) for any name, and records every name it is asked."""
    import socket

    import pytest_socket

    names: list[str] = []
    pytest_socket.enable_socket()
    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", socket.socket.connect)  # undone after the test

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            names.append(host)
            host = "10.66.0.1"
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    yield names
    pytest_socket.disable_socket(allow_unix_socket=True)


class VideoServer:
    """A threaded HTTP(S) server on 127.0.0.1 serving ``body`` at every path; records the Host
    header of each request and, for TLS, the SNI name the client sent."""

    def __init__(self, body: bytes, tls=None) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.hosts: list[str] = []
        self.sni: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hosts.append(self.headers.get("Host", ""))
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            tls.sni_callback = lambda sock, name, ctx: self.sni.append(name)
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers: list[VideoServer] = []

    def start(body: bytes, tls=None) -> VideoServer:
        servers.append(VideoServer(body, tls))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_over_http_the_connection_goes_to_the_checked_address_not_a_new_lookup(loopback, serve):
    from i2v.video_transfer import pinned_session

    server = serve(mp4(200_000))
    policy = CheckedAs("127.0.0.1")
    upload = Upload()
    url = f"http://video.test:{server.port}/v.mp4"
    assert copy_video(url, policy, upload, 10**9, session=pinned_session()) == 200_000
    assert upload.completed == mp4(200_000)
    assert policy.checked == [url]
    assert server.hosts == [f"video.test:{server.port}"]  # the server still sees the name
    assert loopback == []  # and nothing looked video.test up again (it would have got 10.66.0.1)


def _certificate(tmp_path, name: str):
    """A self-signed certificate for ``name`` (its own CA): (server TLS context, CA file)."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, str(cert_file)


def test_over_https_sni_and_the_certificate_check_use_the_name(loopback, serve, tmp_path):
    from i2v.video_transfer import pinned_session

    tls, ca_file = _certificate(tmp_path, "video.test")
    server = serve(mp4(100_000), tls)
    session = pinned_session()
    session.verify = ca_file  # trust the test CA; verification itself stays on
    url = f"https://video.test:{server.port}/v.mp4"
    assert copy_video(url, CheckedAs("127.0.0.1"), Upload(), 10**9, session=session) == 100_000
    assert server.sni == ["video.test"]
    assert server.hosts == [f"video.test:{server.port}"]
    assert loopback == []


def test_over_https_a_certificate_for_another_name_is_refused(loopback, serve, tmp_path):
    from i2v.video_transfer import pinned_session

    tls, ca_file = _certificate(tmp_path, "video.test")
    server = serve(mp4(1000), tls)
    session = pinned_session()
    session.verify = ca_file
    upload = Upload()
    with pytest.raises(VideoTransferError, match="SSLError"):
        copy_video(f"https://elsewhere.test:{server.port}/v.mp4", CheckedAs("127.0.0.1"), upload, 10**9,
                   session=session)
    assert upload.completed is None and server.hosts == []
    assert server.sni == ["elsewhere.test"]


def test_over_https_an_untrusted_certificate_is_refused(loopback, serve, tmp_path):
    from i2v.video_transfer import pinned_session

    tls, _ca_file = _certificate(tmp_path, "video.test")
    server = serve(mp4(1000), tls)
    with pytest.raises(VideoTransferError, match="SSLError"):  # the default trust store: not our test CA
        copy_video(f"https://video.test:{server.port}/v.mp4", CheckedAs("127.0.0.1"), Upload(), 10**9,
                   session=pinned_session())
    assert server.hosts == []
