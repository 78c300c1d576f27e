"""Throughput: uploads through the whole local pipeline (LocalCloud + the provider simulator), no faults.

Like `i2v_local.soak` without fault injection: a burst of uploads (70 % Standard, 30 % Professional via
the `mode` user metadata, the polling benchmark's mix) lands in the bucket at once, the queue and the
in-flight cap (10) meter them out, and every notification is read back from the SNS inbox.
Simulator and workflow run `speed` times faster than the real service (waits are scaled the same way),
so latencies are also given in provider-equivalent seconds (x speed).

It also counts the AWS API requests the handlers make per upload, by operation and by service (S3,
DynamoDB, SQS, SNS, Step Functions; the local event sources' own receives and deletes included, empty polls
too), and how busy the provider is while uploads wait: every SAMPLE_SECONDS the benchmark (in its own
thread, whose requests are not counted) reads the simulator's tasks in flight and whether any job is still
QUEUED in the jobs table; the time-weighted mean over the samples with a QUEUED job is
`provider_in_flight_mean_while_waiting` (the goal: at least 90 % of the in-flight cap).
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections import Counter, defaultdict
from typing import Any

from i2v_bench.stats import mean, percentile

UPLOADS = 100
SPEED = 20.0  # the demo's default (README: "runs 20x faster than the real service")
MAX_IN_FLIGHT = 10
PROFESSIONAL_EVERY = 10  # uploads 3, 6, 9 of every 10 are Professional: 30 %
SEED = 11
COUNTED_SERVICES = ("s3", "dynamodb", "sns", "stepfunctions", "sqs", "events")
SAMPLE_SECONDS = 0.2


def _image(index: int) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (480 + (index % 5) * 40, 360), ((index * 37) % 255, (index * 91) % 255, 120))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def _mode(index: int) -> str:
    return "Professional" if index % PROFESSIONAL_EVERY in (3, 6, 9) else "Standard"


class RequestCounter:
    """Counts AWS API calls made outside the main thread (the handlers', not the benchmark's).

    Wraps botocore's BaseClient._make_api_call, so clients of every boto3 session count (Powertools
    idempotency makes its own session).
    """

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.batch_get_items = 0
        self._lock = threading.Lock()
        self._original = None

    def __enter__(self) -> RequestCounter:
        from botocore.client import BaseClient

        self._original = original = BaseClient._make_api_call
        counter = self

        def _make_api_call(client, operation_name, api_params):
            counter.record(client.meta.service_model.service_name, operation_name, api_params)
            return original(client, operation_name, api_params)

        BaseClient._make_api_call = _make_api_call
        return self

    def __exit__(self, *exc) -> None:
        from botocore.client import BaseClient

        BaseClient._make_api_call = self._original

    def record(self, service: str, operation: str, params: dict) -> None:
        if threading.current_thread() is threading.main_thread() or threading.current_thread().name == "bench-sampler":
            return
        with self._lock:
            self.counts[f"{service}.{operation}"] += 1
            if operation == "BatchGetItem":
                self.batch_get_items += sum(len(v.get("Keys", [])) for v in (params.get("RequestItems") or {}).values())

    def per_upload(self, uploads: int) -> dict[str, float]:
        out = {name: round(n / uploads, 2) for name, n in sorted(self.counts.items())
               if name.split(".")[0] in COUNTED_SERVICES}
        if self.batch_get_items:
            out["dynamodb.BatchGetItem.items"] = round(self.batch_get_items / uploads, 2)
        return out

    def per_upload_by_service(self, uploads: int) -> dict[str, float]:
        totals: Counter = Counter()
        for name, n in self.counts.items():
            service = name.split(".")[0]
            if service in COUNTED_SERVICES:
                totals[service] += n
        return {service: round(n / uploads, 2) for service, n in sorted(totals.items())}


def _queued(cloud: Any) -> int:
    """Jobs still QUEUED (waiting in the backlog), read from the jobs table."""
    ddb = cloud.client("dynamodb")
    count = 0
    kwargs: dict[str, Any] = {}
    while True:
        reply = ddb.scan(TableName=cloud.tables["jobs"], Select="COUNT", FilterExpression="#s = :q",
                         ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":q": {"S": "QUEUED"}},
                         **kwargs)
        count += reply["Count"]
        if "LastEvaluatedKey" not in reply:
            return count
        kwargs = {"ExclusiveStartKey": reply["LastEvaluatedKey"]}


def in_flight_while_waiting(samples: list[tuple[float, int, int]]) -> tuple[float | None, float]:
    """(time-weighted mean of the provider's tasks in flight over the samples with a QUEUED job, seconds covered)."""
    area = covered = 0.0
    for (t, queued, in_flight), (t_next, _q, _f) in zip(samples, samples[1:], strict=False):
        if queued > 0:
            area += in_flight * (t_next - t)
            covered += t_next - t
    return (area / covered if covered else None), covered


class Sampler(threading.Thread):
    """Reads, every SAMPLE_SECONDS, whether a job is QUEUED and how many tasks the provider has in flight.

    Its requests are not counted: RequestCounter only counts the handlers' threads.
    """

    def __init__(self, cloud: Any, sim: Any) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        self.cloud, self.sim = cloud, sim
        self.samples: list[tuple[float, int, int]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.samples.append((time.monotonic(), _queued(self.cloud), self.sim.stats()["in_flight_now"]))
            except Exception:  # noqa: BLE001 - moto's server now and then answers 500 under load; skip the sample
                pass
            self._stop_event.wait(SAMPLE_SECONDS)

    def stop(self) -> list[tuple[float, int, int]]:
        self._stop_event.set()
        self.join(timeout=10)
        return self.samples


class HandlerTimer:
    """Wall time of each in-process handler call, by function (local moto, not AWS latency)."""

    def __init__(self, lambdas) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self._invoke = lambdas.invoke
        lambdas.invoke = self

    def __call__(self, function_name: str, event):
        started = time.perf_counter()
        try:
            return self._invoke(function_name, event)
        finally:
            self.seconds[function_name].append(time.perf_counter() - started)


def run(quick: bool = False, uploads: int | None = None, speed: float = SPEED, progress=None,
        timeout: float = 420.0) -> dict:
    from botocore.exceptions import ClientError

    from highway_sim.config import SimConfig
    from highway_sim.server import SimulatorServer
    from i2v_local.cloud import CloudConfig, LocalCloud

    uploads = uploads or (20 if quick else UPLOADS)
    os.environ.setdefault("HIGHWAY_API_KEY", "bench-key")
    sim_config = SimConfig(speed=speed, seed=SEED)  # no faults; hints as the defaults give them
    with RequestCounter() as counter, SimulatorServer(sim_config, host="127.0.0.1", port=0) as sim:
        cloud_config = CloudConfig(provider_url=sim.url, time_scale=speed, max_in_flight=MAX_IN_FLIGHT, seed=SEED)
        with LocalCloud(cloud_config) as cloud:
            timer = HandlerTimer(cloud.lambdas)
            sampler = Sampler(cloud, sim)
            s3 = cloud.client("s3")
            images = [_image(i) for i in range(uploads)]
            keys = [f"uploads/bench/item-{i:04d}.jpg" for i in range(uploads)]
            started = time.monotonic()
            for i, key in enumerate(keys):
                s3.put_object(Bucket=cloud_config.bucket, Key=key, Body=images[i], ContentType="image/jpeg",
                              Metadata={"mode": _mode(i)})
            uploaded = time.monotonic()
            sampler.start()
            seen: list[dict] = []
            arrivals: list[float] = []
            end = started + timeout
            failures = 0
            while len(seen) < uploads and time.monotonic() < end:
                try:
                    batch = cloud.drain_notifications(wait_seconds=1)
                    failures = 0
                except ClientError:  # moto's server now and then answers 500 under load; the messages stay
                    failures += 1
                    if failures > 5:
                        raise
                    time.sleep(0.5)
                    continue
                arrivals += [time.monotonic()] * len(batch)
                seen.extend(batch)
                if progress:
                    progress(len(seen), uploads, sim.stats()["in_flight_now"])
            finished = time.monotonic()
            samples = sampler.stop()
            stats = sim.stats()
            jobs_items = cloud.client("dynamodb").scan(TableName=cloud.tables["jobs"]).get("Items", [])
            invocations = dict(cloud.lambdas.invocations)
    notes = [m["notification"] for m in seen]
    ok = [n for n in notes if n["status"] == "SUCCEEDED"]
    if len(notes) < uploads:
        raise RuntimeError(f"only {len(notes)} of {uploads} notifications arrived within {timeout:.0f} s")
    if len(ok) != uploads:
        codes = Counter((n.get("error") or {}).get("code") for n in notes if n["status"] != "SUCCEEDED")
        raise RuntimeError(f"{uploads - len(ok)} uploads failed in a run with no faults: {dict(codes)}")
    total = [n["timings"]["total_seconds"] for n in notes]
    queue = [n["timings"]["queue_seconds"] for n in notes]
    generation = [n["timings"]["generation_seconds"] for n in notes]
    pipeline = [t - q for t, q in zip(total, queue, strict=True)]
    wall = finished - started
    polls = [float(i["polls"]["N"]) for i in jobs_items if "polls" in i]
    item_bytes = [len(json.dumps(i)) for i in jobs_items]
    waiting_mean, waiting_seconds = in_flight_while_waiting(samples)
    return {
        "uploads": uploads,
        "per_minute": round(uploads / wall * 60, 2),
        "latency_p50_s": round(percentile(total, 50), 2),
        "latency_p95_s": round(percentile(total, 95), 2),
        "speed": speed,
        "max_in_flight": MAX_IN_FLIGHT,
        "mix": "70/30 Standard/Professional",
        "wall_seconds": round(wall, 1),
        "upload_seconds": round(uploaded - started, 2),
        "per_minute_provider_equivalent": round(uploads / wall * 60 / speed, 2),
        "latency_p50_provider_s": round(percentile(total, 50) * speed, 1),
        "latency_p95_provider_s": round(percentile(total, 95) * speed, 1),
        "queue_p50_s": round(percentile(queue, 50), 2), "queue_p95_s": round(percentile(queue, 95), 2),
        "generation_p50_s": round(percentile(generation, 50), 2),
        "generation_p95_s": round(percentile(generation, 95), 2),
        "submit_to_notification_p50_s": round(percentile(pipeline, 50), 2),
        "submit_to_notification_p95_s": round(percentile(pipeline, 95), 2),
        "peak_in_flight": stats["peak_in_flight"],
        "provider_tasks_created": stats["tasks_created"],
        "polls_per_job": round(mean(polls), 2) if polls else None,
        "lambda_invocations_per_upload": {k: round(v / uploads, 2) for k, v in sorted(invocations.items())},
        "local_handler_seconds_p50": {k: round(percentile(v, 50), 3) for k, v in sorted(timer.seconds.items())},
        "requests_per_upload": counter.per_upload(uploads),
        "requests_per_upload_by_service": counter.per_upload_by_service(uploads),
        "requests_per_upload_total": round(sum(counter.per_upload_by_service(uploads).values()), 2),
        "provider_in_flight_mean_while_waiting": round(waiting_mean, 2) if waiting_mean is not None else None,
        "provider_in_flight_share_while_waiting": round(waiting_mean / MAX_IN_FLIGHT, 3)
        if waiting_mean is not None else None,
        "waiting_seconds_sampled": round(waiting_seconds, 1), "in_flight_samples": len(samples),
        "jobs_item_json_bytes_p50": round(percentile(item_bytes, 50)) if item_bytes else None,
    }
