"""The fault soak: many uploads through the local pipeline under injected faults and duplicates.

`make soak` runs it at full size; the test suite runs the same scenario smaller. It checks the
promises: exactly one notification per upload, no object version paid twice, in-flight never
above the cap, an empty DLQ, and the right error code on every failure. After it, a burst far above
the cap, then the fuzz run (i2v_local.fuzz): a few hundred generated uploads, good and hostile.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from i2v_local.runner import LocalRun, RunOptions

# Failure codes each injected fault may legitimately end in.
EXPECTED_FAILURE_CODES = {"TASK_FAILED", "VIDEO_NOT_FOUND", "VIDEO_DOWNLOAD_FAILED", "PROVIDER_UNAVAILABLE",
                          "SUBMIT_OUTCOME_UNKNOWN"}
FULL = {"uploads": 300, "duplicate_delivery": 1.0, "p_submit_429": 0.2, "p_submit_5xx": 0.1, "p_result_5xx": 0.1,
        "p_task_failed": 0.05, "p_video_404": 0.05, "max_in_flight": 10}
BURST = {"uploads": 60, "max_in_flight": 3}  # 20x the cap
FUZZ = {"uploads": 300, "seed": 1, "unversioned_uploads": 150}  # generated uploads, good and hostile (i2v_local.fuzz)


@dataclass
class SoakReport:
    uploads: int
    notifications: int
    succeeded: int
    failed: int
    failure_codes: dict
    uploads_without_notification: int
    uploads_with_several_notifications: int
    provider_tasks_created: int
    duplicates_paid: int
    peak_in_flight: int
    in_flight_cap: int
    dlq_depth: int
    queue_depth: int
    duplicate_deliveries: int
    faults_injected: dict
    unexpected_failure_codes: list
    wall_seconds: float
    passed: bool = field(default=False)

    def check(self) -> SoakReport:
        self.passed = (self.notifications == self.uploads and self.uploads_without_notification == 0
                       and self.uploads_with_several_notifications == 0 and self.duplicates_paid == 0
                       and self.peak_in_flight <= self.in_flight_cap and self.dlq_depth == 0
                       and not self.unexpected_failure_codes)
        return self


def _image(index: int) -> bytes:
    import io

    from PIL import Image

    img = Image.new("RGB", (480 + (index % 5) * 40, 360), ((index * 37) % 255, (index * 91) % 255, 120))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def run_soak(uploads: int = 40, duplicate_delivery: float = 1.0, p_submit_429: float = 0.2, p_submit_5xx: float = 0.1,
             p_result_5xx: float = 0.1, p_task_failed: float = 0.05, p_video_404: float = 0.05, max_in_flight: int = 10,
             speed: float = 60.0, seed: int = 11, timeout: float = 900.0, progress=None) -> SoakReport:
    started = time.monotonic()
    faults = {"seed": seed, "p_submit_429": p_submit_429, "p_submit_5xx": p_submit_5xx,
              "p_result_5xx": p_result_5xx, "p_task_failed": p_task_failed, "p_video_404": p_video_404}
    with tempfile.TemporaryDirectory() as out, LocalRun(RunOptions(
            out_dir=Path(out), speed=speed, max_in_flight=max_in_flight, sim_overrides=faults,
            cloud_overrides={"duplicate_delivery": duplicate_delivery, "seed": seed, "visibility_timeout": 5})) as run:
        cloud, sim = run.cloud, run.simulator
        s3 = cloud.client("s3")
        keys = [f"uploads/soak/batch-{i // 50:02d}/item-{i:04d}.jpg" for i in range(uploads)]
        for i, key in enumerate(keys):
            s3.put_object(Bucket=cloud.config.bucket, Key=key, Body=_image(i))
        seen: list[dict] = []
        end = time.monotonic() + timeout
        while len(seen) < uploads and time.monotonic() < end:
            seen.extend(cloud.drain_notifications(wait_seconds=1))
            if progress:
                progress(len(seen), uploads, sim.stats()["in_flight_now"])
        time.sleep(2.0)  # anything extra (a duplicate notification) would arrive now
        seen.extend(cloud.drain_notifications(wait_seconds=1))
        depths = cloud.queue_depths()
        stats = sim.stats()
        duplicated = cloud.duplicated
    per_key = Counter(m["notification"]["source"]["key"] for m in seen)
    codes = Counter(m["notification"]["error"]["code"] for m in seen if m["notification"]["status"] == "FAILED")
    return SoakReport(
        uploads=uploads, notifications=len(seen),
        succeeded=sum(1 for m in seen if m["notification"]["status"] == "SUCCEEDED"),
        failed=sum(codes.values()), failure_codes=dict(codes),
        uploads_without_notification=sum(1 for k in keys if per_key[k] == 0),
        uploads_with_several_notifications=sum(1 for k in keys if per_key[k] > 1),
        provider_tasks_created=stats["tasks_created"], duplicates_paid=len(stats["duplicate_identities"]),
        peak_in_flight=stats["peak_in_flight"], in_flight_cap=max_in_flight, dlq_depth=depths["dlq"],
        queue_depth=depths["queue"], duplicate_deliveries=duplicated, faults_injected=stats["faults"],
        unexpected_failure_codes=sorted(set(codes) - EXPECTED_FAILURE_CODES),
        wall_seconds=round(time.monotonic() - started, 1),
    ).check()


@dataclass
class BurstReport:
    """A burst far above the in-flight cap, no faults: every upload once, in upload order, at the cap."""

    uploads: int
    in_flight_cap: int
    notifications: int
    succeeded: int
    provider_tasks_created: int
    peak_in_flight: int
    out_of_order_starts: int  # jobs that started before an earlier upload
    mean_in_flight_while_waiting: float  # tasks at the provider (its speed-up makes this machine-dependent)
    mean_slots_held_while_waiting: float  # in-flight slots held: a freed slot is taken again at once
    wall_seconds: float
    passed: bool = False

    def check(self) -> BurstReport:
        self.passed = (self.notifications == self.uploads == self.succeeded == self.provider_tasks_created
                       and self.peak_in_flight <= self.in_flight_cap and self.out_of_order_starts == 0)
        return self


def fifo_violations(rows: list[dict], tolerance: float = 1.0) -> list[tuple[str, str]]:
    """Pairs (earlier upload, later upload) where the later one started first although the earlier one was
    already waiting in the backlog: first in, first out as far as at-least-once delivery allows (an event S3
    delivers late parks its job late, and nothing can start it before it is there). Two dispatchers running
    at once (a wake and the schedule) start neighbours within ``tolerance`` seconds in either order."""
    from i2v.backlog import order_key
    from i2v.clock import parse_iso
    from i2v.contracts.job import BatchRef

    jobs = sorted((r for r in rows if r.get("submitted_at")),
                  key=lambda r: order_key(r.get("uploaded_at") or "", r["job_id"], BatchRef.from_dict(r.get("batch"))))
    found = []
    for i, earlier in enumerate(jobs):
        started = parse_iso(earlier["submitted_at"])
        parked = parse_iso(earlier["parked_at"]) if earlier.get("parked_at") else started
        for later in jobs[i + 1:]:
            began = parse_iso(later["submitted_at"])
            if began < started - tolerance and parked < began:
                found.append((earlier["job_id"], later["job_id"]))
    return found


def run_burst(uploads: int = 40, max_in_flight: int = 3, speed: float = 60.0, seed: int = 5,
              timeout: float = 600.0, progress=None) -> BurstReport:
    """Upload ``uploads`` images at once against a small cap; check counts, order and how busy the provider is."""
    from i2v.aws.control_table import DynamoLeaseStore
    from i2v.aws.jobs_table import JobsTable
    from i2v.capacity import Capacity
    from i2v.contracts.status import JobStatus

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as out, LocalRun(RunOptions(
            out_dir=Path(out), speed=speed, max_in_flight=max_in_flight, sim_overrides={"seed": seed},
            cloud_overrides={"seed": seed})) as run:
        cloud, sim = run.cloud, run.simulator
        s3 = cloud.client("s3")
        keys = [f"uploads/burst/item-{i:04d}.jpg" for i in range(uploads)]
        for i, key in enumerate(keys):
            s3.put_object(Bucket=cloud.config.bucket, Key=key, Body=_image(i))
        jobs = JobsTable(cloud.tables["jobs"], cloud.client("dynamodb"))
        # the dispatcher's own view of the slots, read as the harness (the rate window plays no part in it)
        slots = Capacity(DynamoLeaseStore(cloud.tables["control"], ddb=cloud.client("dynamodb")), max_in_flight, 1, 60.0)
        seen: list[dict] = []
        samples: list[int] = []
        held: list[int] = []
        end = time.monotonic() + timeout
        while len(seen) < uploads and time.monotonic() < end:
            seen.extend(cloud.drain_notifications(wait_seconds=0))
            statuses = [row.get("status") for row in jobs.scan()]
            if len(statuses) == uploads and JobStatus.QUEUED in statuses:
                samples.append(sim.stats()["in_flight_now"])
                held.append(slots.in_flight())
            if progress:
                progress(len(seen), uploads, sim.stats()["in_flight_now"])
            time.sleep(0.2)
        stats = sim.stats()
        rows = jobs.scan()
    out_of_order = len(fifo_violations(rows))
    return BurstReport(
        uploads=uploads, in_flight_cap=max_in_flight, notifications=len(seen),
        succeeded=sum(1 for m in seen if m["notification"]["status"] == "SUCCEEDED"),
        provider_tasks_created=stats["tasks_created"], peak_in_flight=stats["peak_in_flight"],
        out_of_order_starts=out_of_order,
        mean_in_flight_while_waiting=round(sum(samples) / len(samples), 2) if samples else 0.0,
        mean_slots_held_while_waiting=round(sum(held) / len(held), 2) if held else 0.0,
        wall_seconds=round(time.monotonic() - started, 1),
    ).check()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=FULL["uploads"])
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--burst", type=int, default=BURST["uploads"], help="uploads of the burst run (0: skip)")
    parser.add_argument("--fuzz", type=int, default=FUZZ["uploads"],
                        help="generated uploads of the fuzz run, good and hostile (0: skip)")
    args = parser.parse_args(argv)

    def progress(done: int, total: int, in_flight: int) -> None:
        print(f"\r  notifications {done}/{total}  provider in flight {in_flight:2d}", end="", file=sys.stderr)

    knobs = {k: v for k, v in FULL.items() if k != "uploads"}
    report = run_soak(uploads=args.uploads, speed=args.speed, progress=progress, **knobs)
    print(file=sys.stderr)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        rows = [("uploads", report.uploads), ("notifications", report.notifications),
                ("succeeded / failed", f"{report.succeeded} / {report.failed}"),
                ("failure codes", report.failure_codes), ("duplicate S3 deliveries", report.duplicate_deliveries),
                ("provider tasks created", report.provider_tasks_created),
                ("object versions paid twice", report.duplicates_paid),
                ("peak in flight / cap", f"{report.peak_in_flight} / {report.in_flight_cap}"),
                ("DLQ depth", report.dlq_depth), ("faults injected", report.faults_injected),
                ("wall time", f"{report.wall_seconds} s"), ("result", "PASS" if report.passed else "FAIL")]
        for name, value in rows:
            print(f"{name:28s} {value}")
    passed = report.passed
    if args.burst:
        passed = _burst(args, progress) and passed
    if args.fuzz:
        passed = _fuzz(args, progress) and passed
    return 0 if passed else 1


def _burst(args: argparse.Namespace, progress) -> bool:
    burst = run_burst(uploads=args.burst, max_in_flight=BURST["max_in_flight"], speed=args.speed, progress=progress)
    print(file=sys.stderr)
    if args.json:
        print(json.dumps(asdict(burst), indent=2))
    else:
        print(f"\nburst: {burst.uploads} uploads at once, cap {burst.in_flight_cap} ({burst.uploads // burst.in_flight_cap}x)")
        for name, value in [("notifications / succeeded", f"{burst.notifications} / {burst.succeeded}"),
                            ("provider tasks created", burst.provider_tasks_created),
                            ("peak in flight / cap", f"{burst.peak_in_flight} / {burst.in_flight_cap}"),
                            ("started out of upload order", burst.out_of_order_starts),
                            ("mean in flight while waiting", burst.mean_in_flight_while_waiting),
                            ("mean slots held while waiting", burst.mean_slots_held_while_waiting),
                            ("wall time", f"{burst.wall_seconds} s"), ("result", "PASS" if burst.passed else "FAIL")]:
            print(f"{name:28s} {value}")
    return burst.passed


def _fuzz(args: argparse.Namespace, progress) -> bool:
    """Generated uploads, good and hostile, with overwrites and deletes (i2v_local.fuzz)."""
    from i2v_local.fuzz import print_report, run_fuzz

    passed = True
    for uploads, versioned in ((args.fuzz, True), (FUZZ["unversioned_uploads"], False)):
        fuzz = run_fuzz(uploads=uploads, seed=FUZZ["seed"], speed=args.speed, versioned=versioned, progress=progress)
        print(file=sys.stderr)
        if args.json:
            print(json.dumps(asdict(fuzz), indent=2, ensure_ascii=False))
        else:
            print(f"\nfuzz: {fuzz.uploads} generated uploads (seed {fuzz.seed}), "
                  f"{'a versioned bucket' if versioned else 'a bucket without versioning'}")
            print_report(fuzz)
        passed = passed and fuzz.passed
    return passed


if __name__ == "__main__":
    sys.exit(main())
