"""Batch files at intake: the file fans out into chunks of rows; each row becomes a job of its own.

A batch file's ledger is opened with the number of rows; then, a chunk at a time, the images its rows
name are claimed (never jobs of their own) and the chunk goes back on the upload queue, and the ledger
records how far the fan-out got. Every step stops after ``BATCH_STEP_SECONDS`` and puts the rest back
on the queue (the fan-out as a *resume* message, a chunk as a smaller chunk), so a file of 100,000 rows
is taken in steps that each fit the intake function's time, and a fan-out cut short by a crash or a
timeout resumes where the ledger says when its event comes again. A row that cannot be a job fails by
its row number and never stops the good ones. The ledger sends the batch's summary when its last row
ends (i2v.batch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from i2v import constants as c
from i2v.batch import Ledger
from i2v.contracts.errors import ErrorCode, ErrorDetail, JobError
from i2v.contracts.job import BatchRef, Job, JobKind, Source
from i2v.contracts.status import Stage
from i2v.jobs import keys
from i2v.jobs.batch import Row, parse_rows
from i2v.jobs.build import resolve_inputs
from i2v.observability import bind_job, logger
from i2v.steps.intake import IntakeDeps, Outcome, claim_inputs, take_job
from i2v.steps.reject import reject

CHUNK_KIND = "i2v-batch-rows"
RESUME_KIND = "i2v-batch-resume"


@dataclass(frozen=True)
class Chunk:
    """Some rows of one batch, as one message on the upload queue carries them."""

    source: Source
    batch_id: str
    uploaded_at: str
    redrive: int
    total: int
    rows: tuple[Row, ...]

    def to_message(self) -> dict[str, Any]:
        return {"kind": CHUNK_KIND, "source": self.source.to_dict(), "batch_id": self.batch_id,
                "uploaded_at": self.uploaded_at, "redrive": self.redrive, "total": self.total,
                "rows": [r.to_dict() for r in self.rows]}

    @classmethod
    def from_message(cls, body: dict[str, Any]) -> Chunk:
        return cls(source=Source.from_dict(body["source"]), batch_id=str(body["batch_id"]),
                   uploaded_at=str(body["uploaded_at"]), redrive=int(body.get("redrive") or 0),
                   total=int(body["total"]), rows=tuple(Row.from_dict(r) for r in body["rows"]))


class BatchStore(Protocol):
    def read_all(self, key: str, max_bytes: int, pin: Any = None) -> bytes: ...


def take_batch(job: Job, redrive: int, deps: IntakeDeps, ledger: Ledger,
               send: Callable[[dict[str, Any]], None]) -> Outcome:
    """The batch file itself (or a resume message for it): read it, open its ledger, and fan its rows out
    from where the ledger says, until they are all sent or this step's time is up."""
    s = deps.settings
    try:
        rows = parse_rows(deps.bucket.read_all(job.source.key, c.MAX_BATCH_BYTES + 1, job.source.pin), job.source.key)
    except JobError as exc:  # the file as a whole is unusable: it fails like a job, with one notification
        if deps.jobs.create(job.job_id, source=job.source.to_dict(), kind=job.kind.value, video_key=job.video_key,
                            manifest_key=job.manifest_key, uploaded_at=job.uploaded_at, redrive=redrive):
            reject(job, exc.detail, redrive, workflow=deps.workflow, jobs=deps.jobs, clock=deps.clock)
        return Outcome.FAILED
    uploaded_at = job.uploaded_at or ""
    summary_key = keys.summary_key(job.source.key, s.uploads_prefix, s.outputs_prefix)
    done = ledger.open(job.job_id, total=len(rows), source=job.source.to_dict(), summary_key=summary_key,
                       uploaded_at=uploaded_at)
    if done >= len(rows):
        logger.info("duplicate event for a batch already fanned out")
        return Outcome.DUPLICATE
    if done:
        logger.info("batch fan-out resumes", extra={"rows_sent": done, "rows": len(rows)})
    deadline = deps.clock() + c.BATCH_STEP_SECONDS
    for start in range(done, len(rows), c.BATCH_CHUNK_ROWS):
        if start > done and deps.clock() >= deadline:
            send({"kind": RESUME_KIND, "job": job.to_dict(), "redrive": redrive})
            logger.info("batch fan-out continues in a message of its own",
                        extra={"rows_sent": start, "rows": len(rows), "batch_id": job.job_id})
            return Outcome.PARKED
        chunk = rows[start:start + c.BATCH_CHUNK_ROWS]
        _claim_images(job, chunk, len(rows), redrive, deps)
        send(Chunk(job.source, job.job_id, uploaded_at, redrive, len(rows), tuple(chunk)).to_message())
        ledger.fanned_out(job.job_id, start + len(chunk))
    logger.info("batch file fanned out", extra={"rows": len(rows), "batch_id": job.job_id})
    return Outcome.PARKED


def resumed_batch(body: dict[str, Any]) -> tuple[Job, int]:
    """The batch file job and redrive a resume message carries."""
    return Job.from_dict(body["job"]), int(body.get("redrive") or 0)


def _claim_images(job: Job, rows: list[Row], total: int, redrive: int, deps: IntakeDeps) -> None:
    """A batch's images are its rows' inputs, never jobs of their own."""
    s = deps.settings
    for row in rows:
        if row.problem is None:
            probe = row_job(job.source, job.job_id, row, total, s.uploads_prefix, s.outputs_prefix)
            try:
                resolve_inputs(probe, row.fields, s.uploads_prefix, "a row")
                probe.request = {"end_image_key": row.fields.get("end_image") and
                                 keys.resolve_relative(job.source.key, str(row.fields["end_image"]))}
            except (JobError, ValueError):
                continue  # the row fails on its own when it is taken
            claim_inputs(probe, redrive, deps, row.fields)


def row_job(batch_source: Source, batch_id: str, row: Row, total: int, uploads_prefix: str,
            outputs_prefix: str) -> Job:
    """The job of one row: its own id, and outputs in a folder named after the batch file."""
    image = row.fields.get("image")
    image_name = image if isinstance(image, str) and image.strip() else "row"
    video_key, manifest_key = keys.row_output_keys(batch_source.key, row.number, image_name, uploads_prefix,
                                                   outputs_prefix)
    version = batch_source.version_id or f"{batch_source.etag}@{batch_source.sequencer}"
    return Job(job_id=keys.job_id_for(batch_source.bucket, f"{batch_source.key}#row{row.number}", version),
               kind=JobKind.BATCH_ROW, source=batch_source, video_key=video_key, manifest_key=manifest_key,
               batch=BatchRef(batch_id=batch_id, key=batch_source.key, row=row.number, total=total))


def take_rows(chunk: Chunk, deps: IntakeDeps, send: Callable[[dict[str, Any]], None] | None = None) -> list[Outcome]:
    """Each row of a chunk becomes a job; when this step's time is up, the rows left go back on the queue
    as a chunk of their own (``send``)."""
    s = deps.settings
    outcomes: list[Outcome] = []
    deadline = deps.clock() + c.BATCH_STEP_SECONDS
    for i, row in enumerate(chunk.rows):
        if send is not None and outcomes and deps.clock() >= deadline:
            send(replace(chunk, rows=chunk.rows[i:]).to_message())
            logger.info("rows left for a message of their own", extra={"rows": len(chunk.rows) - i})
            break
        job = row_job(chunk.source, chunk.batch_id, row, chunk.total, s.uploads_prefix, s.outputs_prefix)
        bind_job(job.job_id)
        job.uploaded_at = chunk.uploaded_at
        job.timings["uploaded_at"] = chunk.uploaded_at
        if row.problem is not None:
            outcomes.append(_bad_row(job, row, chunk.redrive, deps))
        else:
            outcomes.append(take_job(job, chunk.redrive, deps, row=row.fields))
    return outcomes


def _bad_row(job: Job, row: Row, redrive: int, deps: IntakeDeps) -> Outcome:
    if not deps.jobs.create(job.job_id, source=job.source.to_dict(), kind=job.kind.value, video_key=job.video_key,
                            manifest_key=job.manifest_key, uploaded_at=job.uploaded_at, redrive=redrive,
                            batch=job.batch.to_dict() if job.batch else None):
        return Outcome.DUPLICATE
    detail = ErrorDetail(code=ErrorCode.INVALID_BATCH_ROW, stage=Stage.VALIDATE,
                         message=f"{row.problem} (batch file {job.source.key})")
    reject(job, detail, redrive, workflow=deps.workflow, jobs=deps.jobs, clock=deps.clock)
    return Outcome.FAILED
