"""Store memory: peak RSS and speed of the store function's copy path, streaming against read-all.

For every (size, strategy) a fresh Python process copies one video from a local HTTP server
(`video_server.py`, 127.0.0.1, generated body, never held in memory) into S3 served by moto in yet
another process (`python -m moto.server`; moto keeps objects, so it must not share the copier's RSS):

- streaming: the production path, `i2v.video_transfer.copy_video` + `S3Bucket.upload_stream`
  (`STREAM_TRANSFER`: 8 MiB multipart parts, two in flight, at most two buffered in memory) with the
  local URL policy ("loopback-http");
- read-all: the usual first version, `requests.get(url).content` then one `put_object`.

The copier measures its own resident set: after imports, client creation and a 1 MB warm-up copy by
the same path, the current RSS is the baseline; a thread samples /proc/self/statm every 5 ms during the
copy and `ru_maxrss` (the kernel's high-water mark, which also sees what happens between samples) is read
at the end. peak_mb = highest RSS during the copy - baseline. MB = 10^6 bytes throughout.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

from i2v_bench.stats import median
from i2v_bench.video_server import VideoServer

MB = 1_000_000
SIZES_MB = (5, 50, 500)
STRATEGIES = ("read-all", "streaming")
REPEATS = {5: 3, 50: 3, 500: 1}
BUCKET = "i2v-bench"
WARMUP_BYTES = 1 * MB
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- the copier (runs in a fresh process) ------------------------------------------------------
def _rss() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE


class _Sampler(threading.Thread):
    def __init__(self, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak, self._stop_event = interval, 0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, _rss())
        return self.peak


def _copier(strategy: str, server_url: str):
    import requests

    from i2v import constants as c
    from i2v.aws.s3 import S3Bucket
    from i2v.safe_url import UrlPolicy
    from i2v.video_transfer import copy_video

    bucket = S3Bucket(BUCKET)
    session = requests.Session()
    policy = UrlPolicy(c.URL_POLICY_LOOPBACK_HTTP, server_url)

    def streaming(url: str, key: str) -> int:
        return copy_video(url, policy, lambda stream: bucket.upload_stream(key, stream), c.DEFAULT_MAX_VIDEO_BYTES,
                          session)

    def read_all(url: str, key: str) -> int:
        response = session.get(url, timeout=(5.0, 60.0))
        response.raise_for_status()
        body = response.content
        bucket.s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="video/mp4")
        return len(body)

    return {"streaming": streaming, "read-all": read_all}[strategy], bucket


def child(strategy: str, server_url: str, size: int, key: str) -> dict:
    copy, bucket = _copier(strategy, server_url)
    copy(f"{server_url}/video/{WARMUP_BYTES}.mp4", key + ".warmup")  # imports, clients, pools, first part
    bucket.s3.delete_object(Bucket=BUCKET, Key=key + ".warmup")
    gc.collect()
    baseline = _rss()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    sampler = _Sampler()
    sampler.start()
    started = time.perf_counter()
    copied = copy(f"{server_url}/video/{size}.mp4", key)
    seconds = time.perf_counter() - started
    sampled = sampler.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    # ru_maxrss is a high-water mark since the process began: it only counts if the copy raised it.
    peak = max(sampled, maxrss) if maxrss > maxrss_before else sampled
    return {"bytes": copied, "seconds": seconds, "baseline_rss": baseline, "peak_rss": peak,
            "peak_delta": max(0, peak - baseline), "sampled_peak": sampled, "maxrss": maxrss}


# --- the orchestration (runs in the benchmark's process) ---------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _aws_env(endpoint: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "I2V_"))}
    env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
    return env


@contextmanager
def moto_server():
    """moto's S3 in its own process on 127.0.0.1 (objects it holds never count against the copier)."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_aws_env(""))
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _run_child(strategy: str, server_url: str, size: int, key: str, endpoint: str) -> dict:
    command = [sys.executable, "-m", "i2v_bench.store_memory", "--child", strategy, server_url, str(size), key]
    done = subprocess.run(command, capture_output=True, text=True, env=_aws_env(endpoint), timeout=600,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"store copier {strategy} {size} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False, progress=print) -> dict:
    import boto3

    sizes = (5, 50) if quick else SIZES_MB
    rows = []
    with moto_server() as endpoint, VideoServer() as server:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                          aws_secret_access_key="bench")
        s3.create_bucket(Bucket=BUCKET)
        for size_mb in sizes:
            size = size_mb * MB
            samples: dict[str, list[dict]] = {s: [] for s in STRATEGIES}
            for rep in range(1 if quick else REPEATS[size_mb]):
                order = STRATEGIES if rep % 2 == 0 else tuple(reversed(STRATEGIES))
                for strategy in order:
                    key = f"outputs/bench/{strategy}-{size_mb}mb-{rep}.mp4"
                    result = _run_child(strategy, server.url, size, key, endpoint)
                    stored = s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
                    if result["bytes"] != size or stored != size:
                        raise RuntimeError(f"{strategy} copied {result['bytes']} bytes, S3 holds {stored}; "
                                           f"expected {size}")
                    s3.delete_object(Bucket=BUCKET, Key=key)
                    samples[strategy].append(result)
                    progress(f"  store {size_mb:>4} MB {strategy:<9} peak +{result['peak_delta'] / MB:7.1f} MB"
                             f"  {size / MB / result['seconds']:6.1f} MB/s")
            for strategy in STRATEGIES:
                runs = samples[strategy]
                rows.append({
                    "size_mb": size_mb, "strategy": strategy,
                    "peak_mb": round(median([r["peak_delta"] for r in runs]) / MB, 1),
                    "mb_per_s": round(median([size / MB / r["seconds"] for r in runs]), 1),
                    "runs": len(runs),
                    "baseline_rss_mb": round(median([r["baseline_rss"] for r in runs]) / MB, 1),
                })
    return {"rows": rows, "meta": {"mb": "10^6 bytes", "repeats": {str(k): v for k, v in REPEATS.items()},
                                   "s3": "moto server in a separate process on 127.0.0.1",
                                   "video_server": "127.0.0.1, generated body (ftyp + mdat + filler)"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the copier process of the store memory benchmark")
    parser.add_argument("--child", nargs=4, metavar=("STRATEGY", "SERVER_URL", "BYTES", "KEY"), required=True)
    args = parser.parse_args(argv)
    strategy, server_url, size, key = args.child
    print(json.dumps(child(strategy, server_url, int(size), key)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
