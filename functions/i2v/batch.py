"""A batch's ledger and its summary: how many rows ended, how, at what cost, and the one
``i2v.batch/v1`` document sent when the last row ends.

The ledger counts each row once (the store step records a row only when it publishes that row's
notification), so the summary goes out exactly once, after every row has its notification.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from i2v import constants as c
from i2v.clock import iso, parse_iso

MAX_LISTED_FAILURES = 100  # the summary lists the first failures by row; counts by code cover them all


@dataclass(frozen=True)
class RowEnd:
    """One row's outcome, as its notification says."""

    batch_id: str
    row: int
    job_id: str
    succeeded: bool
    code: str | None
    message: str | None
    cost_usd: float


class Ledger(Protocol):
    def open(self, batch_id: str, *, total: int, source: Mapping[str, Any], summary_key: str,
             uploaded_at: str) -> int:
        """Start a batch's ledger, or find it started (a redelivered or resumed event): how many of its
        rows are fanned out already (``total`` once all are)."""
        ...

    def fanned_out(self, batch_id: str, rows: int) -> None:
        """The first ``rows`` rows are claimed and on their way: a resumed fan-out starts after them."""
        ...

    def record(self, end: RowEnd) -> dict[str, Any] | None:
        """Count one ended row; the whole ledger when this was the last row and the caller must send the
        summary (only one caller ever gets it), else None."""
        ...


def row_end(notification: Mapping[str, Any]) -> RowEnd | None:
    batch = notification.get("batch")
    if not batch:
        return None
    error = notification.get("error") or {}
    cost = (notification.get("cost") or {}).get("estimated_usd") or 0.0
    return RowEnd(batch_id=str(batch["batch_id"]), row=int(batch["row"]), job_id=str(notification["job_id"]),
                  succeeded=notification["status"] == "SUCCEEDED", code=error.get("code"),
                  message=(error.get("message") or None) and str(error.get("message"))[:300],
                  cost_usd=float(cost))


def summary(ledger: Mapping[str, Any], completed_at: float) -> dict[str, Any]:
    """The ``i2v.batch/v1`` document."""
    failures = sorted(ledger.get("failures") or [], key=lambda f: int(f["row"]))
    uploaded_at = ledger.get("uploaded_at")
    return {
        "schema": c.BATCH_SCHEMA,
        "status": "COMPLETED",
        "batch_id": ledger["batch_id"],
        "source": ledger["source"],
        "counts": {"total": int(ledger["total"]), "succeeded": int(ledger.get("succeeded") or 0),
                   "failed": int(ledger.get("failed") or 0)},
        "failures_by_code": {k: int(v) for k, v in sorted((ledger.get("codes") or {}).items())},
        "failures": failures[:MAX_LISTED_FAILURES],
        "cost": {"estimated_usd": round(float(ledger.get("cost_usd") or 0.0), 4)},
        "summary": {"bucket": ledger["source"]["bucket"], "key": ledger["summary_key"]},
        "timings": {"uploaded_at": uploaded_at, "completed_at": iso(completed_at),
                    "total_seconds": round(completed_at - parse_iso(uploaded_at), 3) if uploaded_at else None},
    }


class SummaryOutputs(Protocol):
    def put_json(self, key: str, document: dict[str, Any]) -> object: ...


def close_row(notification: Mapping[str, Any], ledger: Ledger, outputs: SummaryOutputs,
              publish: Callable[[dict[str, Any]], Any], now: float) -> dict[str, Any] | None:
    """Count a row's end in its batch's ledger; after the last row, write the summary and send it once."""
    end = row_end(notification)
    if end is None:
        return None
    finished = ledger.record(end)
    if finished is None:
        return None
    document = summary(finished, now)
    outputs.put_json(document["summary"]["key"], document)
    publish(document)
    return document
