"""A message that failed every delivery: say so on its jobs, so `i2v jobs list` shows them.

The message itself waits in the dead-letter queue (`i2v redrive` moves it back after a fix); each job
it names gets the status DEAD_LETTER and the reason, unless the job had already got further. A message
names its jobs three ways: an S3 event (one job per record), a batch file's chunk of rows (one job per
row) and a batch file's fan-out to resume (the batch file's own job).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from i2v.clock import iso
from i2v.contracts.job import Job, Source
from i2v.jobs.build import identify
from i2v.jobs.keys import decode_event_key
from i2v.observability import logger
from i2v.steps.batch import CHUNK_KIND, RESUME_KIND, Chunk, resumed_batch, row_job
from i2v.steps.intake import IntakeDeps


def mark_dead_letter(body: str, reason: str, deps: IntakeDeps) -> None:
    try:
        message = json.loads(body)
        named = list(_named_jobs(message, deps)) if isinstance(message, dict) else []
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return  # names no job at all: the log line says why it failed
    for job in named:
        fields: dict[str, Any] = {"dead_letter_reason": reason, "source": job.source.to_dict(),
                                  "updated_at": iso(deps.clock())}
        if job.batch is not None:
            fields["batch"] = job.batch.to_dict()
        if deps.jobs.dead_letter(job.job_id, **fields):
            logger.error("job marked DEAD_LETTER", extra={"job_id": job.job_id})


def _named_jobs(message: dict[str, Any], deps: IntakeDeps) -> Iterator[Job]:
    s = deps.settings
    if message.get("kind") == CHUNK_KIND:
        chunk = Chunk.from_message(message)
        for row in chunk.rows:
            yield row_job(chunk.source, chunk.batch_id, row, chunk.total, s.uploads_prefix, s.outputs_prefix)
        return
    if message.get("kind") == RESUME_KIND:
        yield resumed_batch(message)[0]
        return
    for record in message.get("Records") or []:
        try:
            obj = record["s3"]["object"]
            source = Source(bucket=record["s3"]["bucket"]["name"], key=decode_event_key(str(obj["key"])),
                            version_id=obj.get("versionId"), etag=obj.get("eTag"), sequencer=obj.get("sequencer"))
        except (KeyError, TypeError):
            continue
        job = identify(source, s.uploads_prefix, s.outputs_prefix)
        if isinstance(job, Job):
            yield job
