"""Batch files: a `.csv` (a header row names the columns) or `.jsonl` (one JSON object a line) with one
job per row, the same keys as a job file (`image`, `prompt`, `negative_prompt`, `mode`, `duration`,
`guidance_scale`, `end_image`, `priority`), image keys relative to the batch file's folder.

A row that cannot be read is not dropped: it becomes a row whose ``problem`` fails that row's job
(by row number) and never stops the good ones.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from i2v import constants as c
from i2v.contracts.errors import ErrorCode, InvalidJobFile
from i2v.contracts.params import JOB_FILE_KEYS


@dataclass(frozen=True)
class Row:
    number: int  # 1-based data row (a CSV's header is not counted)
    fields: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # why this row cannot be a job (it fails by its number)

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "fields": self.fields, "problem": self.problem}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        return cls(number=int(data["number"]), fields=dict(data.get("fields") or {}), problem=data.get("problem"))


class InvalidBatchFile(InvalidJobFile):
    code = ErrorCode.INVALID_BATCH_FILE


def parse_rows(raw: bytes, key: str) -> list[Row]:
    """Every data row of a batch file; raises InvalidBatchFile when the file as a whole is unusable."""
    if len(raw) > c.MAX_BATCH_BYTES:
        raise InvalidBatchFile(f"batch file {key} is over {c.MAX_BATCH_BYTES} bytes; expected a smaller file "
                               "(split it into several)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidBatchFile(f"batch file {key} is not UTF-8 text ({exc.reason}); expected UTF-8 CSV or "
                               "JSON lines") from None
    rows = _jsonl(text) if key.lower().endswith(".jsonl") else _csv(text, key)
    if not rows:
        raise InvalidBatchFile(f"batch file {key} has no rows; expected one job per row")
    if len(rows) > c.MAX_BATCH_ROWS:
        raise InvalidBatchFile(f"batch file {key} has {len(rows)} rows; expected at most {c.MAX_BATCH_ROWS}")
    return rows


def _known(number: int, fields: dict[str, Any]) -> Row:
    unknown = sorted(k for k in fields if k not in JOB_FILE_KEYS)
    if unknown:
        shown = ", ".join(repr(k)[:40] for k in unknown[:10])
        return Row(number, {}, f"row {number} has unknown key(s) {shown}; expected only "
                               f"{', '.join(sorted(JOB_FILE_KEYS))}")
    return Row(number, {k: v for k, v in fields.items() if v not in (None, "")})


def _csv(text: str, key: str) -> list[Row]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return []
    except csv.Error as exc:
        raise InvalidBatchFile(f"batch file {key}: the header row cannot be read ({exc})") from None
    unknown = sorted(h for h in header if h and h not in JOB_FILE_KEYS)
    if "image" not in header or unknown:
        raise InvalidBatchFile(f"batch file {key}: the header row must name the columns, with `image` among "
                               f"them and only {', '.join(sorted(JOB_FILE_KEYS))}"
                               + (f"; unknown: {', '.join(repr(u)[:40] for u in unknown[:10])}" if unknown else ""))
    rows: list[Row] = []
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            number += 1
            rows.append(Row(number, {}, f"row {number} cannot be read as CSV ({exc})"))
            continue
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not rows
        number += 1
        if len(cells) > len(header):
            rows.append(Row(number, {}, f"row {number} has {len(cells)} cells for {len(header)} columns"))
            continue
        rows.append(_known(number, {h: cell for h, cell in zip(header, cells, strict=False) if h}))


def _jsonl(text: str) -> list[Row]:
    rows: list[Row] = []
    number = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        number += 1
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
            rows.append(Row(number, {}, f"row {number} is not valid JSON ({reason})"))
            continue
        if not isinstance(value, dict):
            rows.append(Row(number, {}, f"row {number} holds a JSON {type(value).__name__}; expected an object"))
            continue
        rows.append(_known(number, value))
    return rows
