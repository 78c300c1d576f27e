"""An upload event that failed every delivery: say so on its job, so `i2v jobs list` shows it.

The message itself waits in the dead-letter queue (`i2v redrive` moves it back after a fix); the
job's record gets the status DEAD_LETTER and the reason, unless the job had already got further.
"""

from __future__ import annotations

import json

from i2v.clock import iso
from i2v.contracts.job import Job, Source
from i2v.jobs.build import identify
from i2v.jobs.keys import decode_event_key
from i2v.observability import logger
from i2v.steps.intake import IntakeDeps


def mark_dead_letter(body: str, reason: str, deps: IntakeDeps) -> None:
    try:
        records = json.loads(body).get("Records") or []
    except (ValueError, AttributeError, RecursionError):
        return  # not an S3 event at all: nothing names a job; the log line says why it failed
    for record in records:
        try:
            obj = record["s3"]["object"]
            source = Source(bucket=record["s3"]["bucket"]["name"], key=decode_event_key(str(obj["key"])),
                            version_id=obj.get("versionId"), etag=obj.get("eTag"), sequencer=obj.get("sequencer"))
        except (KeyError, TypeError):
            continue
        job = identify(source, deps.settings.uploads_prefix, deps.settings.outputs_prefix)
        if isinstance(job, Job):
            if deps.jobs.dead_letter(job.job_id, dead_letter_reason=reason, source=source.to_dict(),
                                  updated_at=iso(deps.clock())):
                logger.error("job marked DEAD_LETTER", extra={"job_id": job.job_id})
