"""One local run of the pipeline: start what is needed, upload, follow the jobs, collect outputs."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from i2v import constants as c
from i2v.aws.jobs_table import JobsTable
from i2v.contracts.status import JobStatus
from i2v.jobs.keys import classify_key
from i2v_local.cloud import CloudConfig, LocalCloud
from i2v_local.uploads import Upload

SIMULATOR_KEY = "local-simulator-key"

# jobs-table status -> what the progress display says
PHASES = {JobStatus.RECEIVED: "checking", JobStatus.HELD: "held", JobStatus.QUEUED: "queued",
          JobStatus.SUBMITTING: "submitting", JobStatus.GENERATING: "generating", JobStatus.STORING: "storing",
          JobStatus.SUCCEEDED: "done", JobStatus.FAILING: "failing", JobStatus.FAILED: "failed",
          JobStatus.DEAD_LETTER: "dead-letter"}
BUDGET_PHASE = "waits for budget"  # `i2v local --budget-daily`: it would start the next UTC day


@dataclass
class RunOptions:
    out_dir: Path
    provider_url: str | None = None  # None: start the simulator
    speed: float = 20.0  # simulator speed factor; the workflow's waits are scaled by the same
    full_size: bool = False
    max_in_flight: int = c.DEFAULT_MAX_IN_FLIGHT
    submits_per_minute: int = c.DEFAULT_SUBMITS_PER_MINUTE
    timeout: float | None = None
    sim_overrides: dict = field(default_factory=dict)
    cloud_overrides: dict = field(default_factory=dict)


@dataclass
class JobView:
    key: str
    phase: str = "uploading"
    progress: float | None = None
    task_id: str | None = None
    notification: dict | None = None
    attributes: dict | None = None
    video_path: Path | None = None
    manifest_path: Path | None = None
    manifest_key: str | None = None  # learned from the job's record (rows of a batch have their own)


def view_key(key: str, row: int | None = None) -> str:
    """A batch file's rows are jobs of their own: `uploads/shoes.csv #7`."""
    return key if row is None else f"{key} #{row}"


class LocalRun:
    """Context manager: the simulator (unless a provider URL is given) and the embedded cloud."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.stack = ExitStack()
        self.simulator = None
        self.cloud: LocalCloud | None = None
        self.provider_url = options.provider_url

    def __enter__(self) -> LocalRun:
        o = self.options
        time_scale = o.speed
        if self.provider_url is None:
            from highway_sim.config import SimConfig
            from highway_sim.server import SimulatorServer

            sim_config = SimConfig(speed=o.speed, full_size=o.full_size, **o.sim_overrides)
            self.simulator = self.stack.enter_context(SimulatorServer(sim_config, host="127.0.0.1", port=0))
            self.provider_url = self.simulator.url
            os.environ.setdefault(c.ENV_API_KEY, SIMULATOR_KEY)
        elif not os.environ.get(c.ENV_API_KEY):
            raise RuntimeError(f"{c.ENV_API_KEY} is not set; the provider at {self.provider_url} needs an API key")
        cloud_config = CloudConfig(provider_url=self.provider_url, time_scale=time_scale,
                                   max_in_flight=o.max_in_flight, submits_per_minute=o.submits_per_minute,
                                   log_path=o.out_dir / ".i2v" / "lambda.log", **o.cloud_overrides)
        self.cloud = self.stack.enter_context(LocalCloud(cloud_config))
        return self

    def __exit__(self, *exc) -> None:
        self.stack.close()

    # -- the run --------------------------------------------------------------------------------
    def upload(self, uploads: list[Upload]) -> dict[str, JobView]:
        s3 = self.cloud.client("s3")
        views: dict[str, JobView] = {}
        cfg = self.cloud.config
        for upload in uploads:  # a file uploaded only because a job file names it is that job's input, no job
            if upload.is_job and classify_key(upload.key, cfg.uploads_prefix, cfg.outputs_prefix).is_job:
                views[upload.key] = JobView(upload.key)
        for upload in uploads:
            with open(upload.path, "rb") as body:
                s3.put_object(Bucket=cfg.bucket, Key=upload.key, Body=body, Metadata=upload.metadata)
            if upload.key in views:
                views[upload.key].phase = "queued"
        return views

    def follow(self, views: dict[str, JobView], on_change: Callable[[dict[str, JobView]], None],
               on_notification: Callable[[dict], None] | None = None) -> None:
        """Update the views until every job has its notification, or waits for the run's daily budget
        (phase ``BUDGET_PHASE``: it would start the next UTC day), or the run's timeout."""
        deadline = time.monotonic() + (self.options.timeout or self._default_timeout())
        jobs = JobsTable(self.cloud.tables["jobs"])
        held_checks = 0
        while any(v.notification is None for v in views.values()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{sum(v.notification is None for v in views.values())} job(s) sent no "
                                   "notification before the run's timeout")
            pending: dict[str, dict] = {}
            for item in jobs.scan():
                key = (item.get("source") or {}).get("key")
                row = (item.get("batch") or {}).get("row")
                if row is not None and key in views and view_key(key, row) not in views:
                    views[view_key(key, row)] = JobView(view_key(key, row), phase="queued")  # a batch's row
                view = views.get(view_key(key, row))
                if view is None or view.notification is not None:
                    continue
                pending[view.key] = item
                view.manifest_key = item.get("manifest_key", view.manifest_key)
                status = JobStatus(item.get("status") or JobStatus.RECEIVED)
                view.phase = PHASES[status]
                if status == JobStatus.GENERATING and "polls" not in item:
                    view.phase = "submitted"
                view.task_id = item.get("task_id", view.task_id)
                if item.get("progress_percent") is not None:
                    view.progress = float(item["progress_percent"])
            for message in self.cloud.drain_notifications(wait_seconds=0):
                note = message["notification"]
                row = None if note.get("schema") == c.BATCH_SCHEMA else (note.get("batch") or {}).get("row")
                view = views.get(view_key(note["source"]["key"], row))
                if view is None or view.notification is not None:
                    continue
                view.notification, view.attributes = note, message["attributes"]
                view.phase = "failed" if note["status"] == "FAILED" else "done"
                if row is not None and view.manifest_key is None:
                    item = jobs.get(note["job_id"]) or {}
                    view.manifest_key = item.get("manifest_key")
                self._collect(view)
                if on_notification:
                    on_notification(note)
            waiting = [v for v in views.values() if v.notification is None]
            held = self._held_by_budget([pending[v.key] for v in waiting if v.key in pending])
            held_checks = held_checks + 1 if waiting and len(held) == len(waiting) else 0
            if held_checks >= 3:  # every job left waits for the budget (seen three times over): it will not move
                for view in waiting:
                    view.phase = BUDGET_PHASE
                on_change(views)
                return
            on_change(views)
            time.sleep(0.25)

    def _held_by_budget(self, items: list[dict]) -> list[dict]:
        """The jobs that wait for the run's daily budget: queued, told to wait, their price more than is left,
        and no earlier job of their content to copy (that one costs nothing: it goes on)."""
        cfg = self.cloud.config
        if cfg.budget_daily_usd is None or not items:
            return []
        from i2v.contracts.prices import price_for, price_table
        from i2v.spend import Periods
        from i2v_local.ops import spend_items

        prices = price_table(cfg.prices)
        ddb, control = self.cloud.client("dynamodb"), self.cloud.tables["control"]
        spent = spend_items(ddb, control).get(f"day#{Periods.at(time.time()).day}", 0.0)
        held = []
        for item in items:
            origin = ddb.get_item(TableName=control, Key={c.CONTROL_TABLE_KEY: {"S": f"content#{item['content_key']}"}},
                                  ConsistentRead=True).get("Item") if item.get("content_key") else None
            if origin and origin.get("job_id", {}).get("S") != item["job_id"]:
                continue  # another job made (or is making) its content: it will be copied, at no cost
            request = item.get("request") or {}
            price = price_for(prices, request.get("mode") or c.DEFAULT_MODE,
                              int(request.get("duration") or c.DEFAULT_DURATION))
            if item.get("status") == JobStatus.QUEUED and item.get("not_before") \
                    and spent + price > cfg.budget_daily_usd + 1e-9:
                held.append(item)
        return held

    def _default_timeout(self) -> float:
        return c.DEFAULT_DEADLINE_PROFESSIONAL / self.options.speed + 180

    def _collect(self, view: JobView) -> None:
        """Copy the video and manifest out of the local bucket, mirroring the output path."""
        note = view.notification
        cfg = self.cloud.config
        s3 = self.cloud.client("s3")
        if note.get("schema") == c.BATCH_SCHEMA:  # a batch's summary
            video_key, manifest_key = "", note["summary"]["key"]
        else:
            video_key, manifest_key = _output_keys(note, cfg)
            if note.get("output"):
                video_key = note["output"]["key"]
            manifest_key = view.manifest_key or manifest_key
        relative = manifest_key[len(cfg.outputs_prefix):]
        manifest_path = self.options.out_dir / relative
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        manifest_path.write_text(json.dumps(note, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        view.manifest_path = manifest_path
        if note.get("output"):
            video_path = self.options.out_dir / video_key[len(cfg.outputs_prefix):]
            with open(video_path, "wb") as fh:
                s3.download_fileobj(cfg.bucket, video_key, fh)
            view.video_path = video_path

    def copy_inputs(self, uploads: list[Upload]) -> None:
        """Keep a copy of each input next to the outputs (the demo page shows it)."""
        for upload in uploads:
            target = self.options.out_dir / ".i2v" / "inputs" / upload.key
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(upload.path, target)

    def export_jobs(self) -> Path:
        """Save the jobs table (and the run's spend) beside the outputs so `i2v jobs --local DIR` (and
        `i2v jobs spend --local DIR`) can read them later."""
        from i2v_local.ops import SPEND_SNAPSHOT, spend_items

        path = self.options.out_dir / ".i2v" / "jobs.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = JobsTable(self.cloud.tables["jobs"]).scan()
        path.write_text(json.dumps(rows, indent=1, default=str), encoding="utf-8")
        spend = spend_items(self.cloud.client("dynamodb"), self.cloud.tables["control"])
        (path.parent / SPEND_SNAPSHOT).write_text(json.dumps(spend, indent=1, sort_keys=True), encoding="utf-8")
        return path


def _output_keys(note: dict, cfg: CloudConfig) -> tuple[str, str]:
    from i2v.jobs.keys import output_keys

    return output_keys(note["source"]["key"], cfg.uploads_prefix, cfg.outputs_prefix)
