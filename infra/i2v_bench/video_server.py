"""A local HTTP server that serves MP4-looking videos of any size without holding them in memory.

`GET /video/<bytes>.mp4` answers 200 with `Content-Type: video/mp4`, an exact `Content-Length`, an ISO
`ftyp` box, an `mdat` box header and then filler made by repeating one 1 MiB block: the body is
generated while it is sent, so a 500 MB video costs the server 1 MiB.
"""

from __future__ import annotations

import random
import re
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCK = random.Random(7).randbytes(1024 * 1024)
FTYP = struct.pack(">I4s4sI", 32, b"ftyp", b"isom", 512) + b"isomiso2avc1mp41"
PATH = re.compile(r"^/video/(\d+)\.mp4$")


def header(size: int) -> bytes:
    """ftyp box + the header of an mdat box that covers the rest of the file."""
    mdat = size - len(FTYP)
    if mdat < 8 or mdat >= 2**32:
        raise ValueError("video size out of range for this generator")
    return FTYP + struct.pack(">I4s", mdat, b"mdat")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        match = PATH.match(self.path.split("?", 1)[0])
        if not match:
            self.send_error(404)
            return
        size = int(match.group(1))
        head = header(size)
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.write(head)
        left = size - len(head)
        view = memoryview(BLOCK)
        try:
            while left > 0:
                n = min(left, len(BLOCK))
                self.wfile.write(view[:n])
                left -= n
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server signature)
        pass


class VideoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-video-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def video_url(self, size: int) -> str:
        return f"{self.url}/video/{size}.mp4"

    def __enter__(self) -> VideoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
