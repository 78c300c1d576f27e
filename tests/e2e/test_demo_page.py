"""The run page in a real browser: `i2v local` on one good and one too-small image, then Debian's Chromium
(headless, driven by Playwright, never a downloaded browser) opens the page the run wrote, served from its
folder on 127.0.0.1. Each video plays, each failure shows its code, nothing is fetched from anywhere else,
the console stays clean. The screenshot is kept: under pytest's tmp dir and test-artifacts/run-page.png.

The browser comes from the project's set-up (`make browser`, which .ci/run calls). The test is skipped only
where Chromium cannot be installed (not Debian/apt, not root, no package); where it can be and is not, it
fails and says how to install it.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support import I2V, ROOT, image_bytes

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"
HAVE_METADATA = 1


def chromium() -> Path:
    """Debian's Chromium; skip only when this machine cannot install it, fail when it merely has not."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    why_not = _why_chromium_cannot_be_installed()
    if why_not:
        pytest.skip(f"Chromium cannot be installed on this machine ({why_not}); the run page was not opened "
                    "in a browser")
    pytest.fail(f"{CHROMIUM} is missing but can be installed here: run `make browser` (apt-get install -y "
                "--no-install-recommends chromium), as .ci/run does")


def _why_chromium_cannot_be_installed() -> str | None:
    if not shutil.which("apt-get") or not shutil.which("apt-cache"):
        return "no apt-get: not a Debian-like system"
    if os.geteuid() != 0:
        return "not root, and apt-get needs root (install Debian's `chromium` package, then run the tests again)"
    policy = subprocess.run(["apt-cache", "policy", "chromium"], capture_output=True, text=True, timeout=60)
    if "Candidate:" not in policy.stdout or "Candidate: (none)" in policy.stdout:
        return "apt knows no `chromium` package (`apt-cache policy chromium`)"
    return None


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def served(tmp_path):
    """A folder served on 127.0.0.1 (loopback only), as `python -m http.server --bind 127.0.0.1` would."""
    servers = []

    def serve(folder: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_run_page_plays_every_video_and_shows_every_failure_in_chromium(tmp_path, served):
    executable = chromium()
    from playwright.sync_api import sync_playwright

    (tmp_path / "good.png").write_bytes(image_bytes(640, 480))
    (tmp_path / "tiny.png").write_bytes(image_bytes(120, 90))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HIGHWAY_API_BASE_URL"}
    result = subprocess.run([str(I2V), "local", "good.png", "tiny.png", "--out", "out"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    out = tmp_path / "out"
    assert result.returncode == 1 and (out / "index.html").is_file(), result.stderr[-3000:]  # one job failed
    assert "index.html" in result.stderr
    notes = {n["source"]["key"]: n for n in (json.loads(p.read_text()) for p in out.glob("*.json"))}
    assert {k: n["status"] for k, n in notes.items()} == {"uploads/good.png": "SUCCEEDED",
                                                         "uploads/tiny.png": "FAILED"}

    base = served(out)
    requests, problems = [], []
    screenshot = tmp_path / "run-page.png"
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(executable), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900}, color_scheme="light", service_workers="block")
        try:
            def route(r):  # the page works offline: anything not from its own folder is refused (and reported)
                requests.append(r.request.url)
                if r.request.url.startswith(base + "/"):
                    r.continue_()
                else:
                    r.abort()

            context.route("**/*", route)
            page = context.pages[0] if context.pages else context.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}"))
            page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
            page.goto(f"{base}/index.html", wait_until="load")

            assert page.locator("article.job").count() == len(notes) == 2
            # every video has its metadata (or an error), then plays: its time moves on its own (autoplay, muted)
            page.wait_for_function("""() => [...document.querySelectorAll('video')].every(
                v => v.error || v.readyState >= 1)""", timeout=30_000)
            page.wait_for_function("""() => [...document.querySelectorAll('video')].every(
                v => v.error || v.currentTime > 0)""", timeout=30_000)
            videos = page.eval_on_selector_all("video", """vs => vs.map(v => ({
                src: v.getAttribute('src'), duration: v.duration, readyState: v.readyState, time: v.currentTime,
                error: v.error && {code: v.error.code, message: v.error.message}, width: v.videoWidth}))""")
            assert [v["src"] for v in videos] == ["good.mp4"], videos
            for video in videos:
                assert video["error"] is None, video
                assert video["readyState"] >= HAVE_METADATA and video["duration"] > 0 and video["width"] > 0, video
                assert video["time"] > 0, video
            images = page.eval_on_selector_all("img", "is => is.map(i => [i.getAttribute('src'), i.naturalWidth])")
            assert len(images) == 2 and all(width > 0 for _, width in images), images

            for key, note in notes.items():
                card = page.locator("article.job", has=page.locator(".key", has_text=key))
                assert card.count() == 1, key
                if note["status"] == "FAILED":
                    code = card.locator(".error .code")
                    assert code.is_visible() and code.inner_text() == note["error"]["code"] == "IMAGE_TOO_SMALL"
                    assert note["error"]["message"] in card.locator(".error").inner_text()
                    assert card.locator("video").count() == 0
                else:
                    assert card.locator("video").is_visible() and card.locator(".error").count() == 0
            header = " ".join(page.locator("header.top").inner_text().split())
            assert "2 jobs" in header and "1 succeeded" in header and "1 failed" in header
            assert "Simulated preview." in header

            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            context.close()
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(screenshot, ARTIFACTS / "run-page.png")
    assert screenshot.stat().st_size > 10_000
    assert not problems, problems
    assert requests and all(url.startswith(base + "/") for url in requests), requests
