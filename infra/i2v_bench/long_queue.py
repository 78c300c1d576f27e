"""Long queue against short: the same local pipeline, 8 uploads and 64 uploads against 2 slots.

The promise of the parked backlog, run for real: a local run of a long queue (64 uploads with
`--max-in-flight 2`) makes about the same AWS requests per upload as a short one (8 uploads), and starts them
in upload order. Each run is
`i2v_local.runner.LocalRun` (the embedded cloud and the provider simulator, as `i2v local` and
`i2v_local.soak.run_burst` start them) at ``SPEED`` x, no faults, 70 % Standard / 30 % Professional (the
throughput section's mix). The AWS requests are recorded from botocore as the throughput section records
them (``throughput.RequestCounter``: the functions' and the local event sources' requests, not the
benchmark's own), from the first upload until the last notification. The start order is read from the jobs
table afterwards: ``i2v_local.soak.fifo_violations`` (pairs where a later upload started first although the
earlier one was already waiting), and the share of consecutive starts whose uploads were in order.

What grows with the time a run takes rather than with its uploads (the dispatcher's schedule, which fires
every 60 s / speed, and the event sources' empty long polls, one a second per queue locally) is counted too,
as it is billed in AWS; ``without_event_source_receives`` leaves the event sources' ReceiveMessage out.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from i2v_bench.throughput import COUNTED_SERVICES, RequestCounter, _image, _mode

SIZES = (8, 64)
QUICK_SIZES = (4, 16)
MAX_IN_FLIGHT = 2
SPEED = 60.0
SEED = 5
FOLDER = "uploads/long-queue/"


def _by_service(counts: Counter[str], uploads: int) -> dict[str, float]:
    totals: Counter[str] = Counter()
    for name, n in counts.items():
        service = name.split(".")[0]
        if service in COUNTED_SERVICES:
            totals[service] += n
    return {service: round(n / uploads, 2) for service, n in sorted(totals.items())}


def in_order_share(order: list[int]) -> float:
    """The share of consecutive starts whose uploads were in order (1.0: exactly upload order)."""
    pairs = list(zip(order, order[1:], strict=False))
    return round(sum(1 for a, b in pairs if b > a) / len(pairs), 4) if pairs else 1.0


def run_one(uploads: int, max_in_flight: int = MAX_IN_FLIGHT, speed: float = SPEED, seed: int = SEED,
            timeout: float = 600.0, progress: Callable[[int, int, int], None] | None = None) -> dict[str, Any]:
    from i2v.aws.jobs_table import JobsTable
    from i2v.clock import parse_iso
    from i2v_local.runner import LocalRun, RunOptions
    from i2v_local.soak import fifo_violations

    os.environ.setdefault("HIGHWAY_API_KEY", "bench-key")
    keys = [f"{FOLDER}item-{i:04d}.jpg" for i in range(uploads)]
    images = [_image(i) for i in range(uploads)]
    with RequestCounter() as counter, tempfile.TemporaryDirectory() as out, LocalRun(RunOptions(
            out_dir=Path(out), speed=speed, max_in_flight=max_in_flight, sim_overrides={"seed": seed},
            cloud_overrides={"seed": seed})) as run:
        cloud, sim = run.cloud, run.simulator
        assert cloud is not None and sim is not None
        s3 = cloud.client("s3")
        started = time.monotonic()
        for i, key in enumerate(keys):
            s3.put_object(Bucket=cloud.config.bucket, Key=key, Body=images[i], ContentType="image/jpeg",
                          Metadata={"mode": _mode(i)})
        seen: list[dict[str, Any]] = []
        end = started + timeout
        while len(seen) < uploads and time.monotonic() < end:
            seen.extend(cloud.drain_notifications(wait_seconds=1))
            if progress:
                progress(len(seen), uploads, sim.stats()["in_flight_now"])
        wall = time.monotonic() - started
        with counter._lock:
            counts = Counter(counter.counts)
        stats = sim.stats()
        rows = JobsTable(cloud.tables["jobs"], cloud.client("dynamodb")).scan()
    if len(seen) < uploads:
        raise RuntimeError(f"{uploads - len(seen)} of {uploads} uploads sent no notification within {timeout:.0f} s")
    failed = [m["notification"] for m in seen if m["notification"]["status"] != "SUCCEEDED"]
    if failed:
        raise RuntimeError(f"{len(failed)} uploads failed in a run with no faults: "
                           f"{Counter((n.get('error') or {}).get('code') for n in failed)}")
    position = {key: i for i, key in enumerate(keys)}
    started_rows = sorted((r for r in rows if r.get("submitted_at")), key=lambda r: parse_iso(r["submitted_at"]))
    order = [position[(r.get("source") or {})["key"]] for r in started_rows]
    by_service = _by_service(counts, uploads)
    receives = counts.get("sqs.ReceiveMessage", 0)
    return {
        "uploads": uploads, "max_in_flight": max_in_flight, "speed": speed,
        "requests_per_upload": round(sum(by_service.values()), 2),
        "requests_per_upload_by_service": by_service,
        "requests_per_upload_by_operation": {k: round(v / uploads, 2) for k, v in sorted(counts.items())
                                             if k.split(".")[0] in COUNTED_SERVICES},
        "without_event_source_receives": round(sum(by_service.values()) - receives / uploads, 2),
        "fifo_violations": len(fifo_violations(rows)),
        "in_order_fraction": in_order_share(order),
        "started": len(order), "provider_tasks_created": stats["tasks_created"],
        "peak_in_flight": stats["peak_in_flight"],
        "wall_seconds": round(wall, 1),
        "drain_provider_minutes": round(wall * speed / 60, 1),
    }


def run(quick: bool = False, sizes: tuple[int, ...] | None = None, speed: float = SPEED,
        progress: Callable[[str], None] = print) -> dict[str, Any]:
    """A short and a long queue at the same cap; the long one's requests per upload against the short one's."""
    sizes = sizes or (QUICK_SIZES if quick else SIZES)
    runs = []
    for uploads in sizes:
        row = run_one(uploads, speed=speed)
        runs.append(row)
        progress(f"  long_queue {uploads:>3} uploads at {MAX_IN_FLIGHT} in flight: {row['requests_per_upload']:.1f} "
                 f"AWS requests/upload, {row['fifo_violations']} started out of order, "
                 f"{row['wall_seconds']:.0f} s")
    short, long = runs[0], runs[-1]
    services = sorted(set(short["requests_per_upload_by_service"]) | set(long["requests_per_upload_by_service"]))
    return {
        "max_in_flight": MAX_IN_FLIGHT, "speed": speed, "mix": "70/30 Standard/Professional", "runs": runs,
        "ratio": round(long["requests_per_upload"] / short["requests_per_upload"], 3),
        "ratio_without_event_source_receives": round(long["without_event_source_receives"]
                                                     / short["without_event_source_receives"], 3),
        "ratio_by_service": {s: round(long["requests_per_upload_by_service"].get(s, 0.0)
                                      / short["requests_per_upload_by_service"][s], 3)
                             for s in services if short["requests_per_upload_by_service"].get(s)},
    }
