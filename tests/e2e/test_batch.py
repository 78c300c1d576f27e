"""A batch file through the whole local pipeline, as a user runs it: `i2v local items.csv`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from support import I2V, ROOT, image_bytes

pytestmark = pytest.mark.e2e
BATCH_SCHEMA = ROOT / "functions" / "i2v" / "contracts" / "batch-v1.schema.json"


def test_a_batch_file_makes_one_job_per_row_and_one_summary(tmp_path, notification_validator):
    (tmp_path / "red.png").write_bytes(image_bytes(640, 480))
    (tmp_path / "blue.png").write_bytes(image_bytes(480, 640))
    (tmp_path / "items.csv").write_text("image,prompt,duration\nred.png,turntable,5\nblue.png,slow pan,10\n"
                                        "red.png,zoom,7\n", encoding="utf-8")
    run = subprocess.run([str(I2V), "local", "items.csv", "--out", "out", "--json", "--speed", "40"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, env={"PATH": str(Path(sys.executable).parent)})
    assert run.returncode == 1, run.stderr[-3000:]  # a row failed
    documents = [json.loads(line) for line in run.stdout.splitlines()]
    rows = sorted((d for d in documents if d["schema"] == "i2v.notification/v1"), key=lambda d: d["batch"]["row"])
    for note in rows:
        notification_validator.validate(note)
    assert [(n["batch"]["row"], n["status"]) for n in rows] == [(1, "SUCCEEDED"), (2, "SUCCEEDED"), (3, "FAILED")]
    assert rows[2]["error"]["code"] == "INVALID_DURATION"
    (summary,) = [d for d in documents if d["schema"] == "i2v.batch/v1"]
    Draft202012Validator(json.loads(BATCH_SCHEMA.read_text()), format_checker=FormatChecker()).validate(summary)
    assert summary["counts"] == {"total": 3, "succeeded": 2, "failed": 1}
    assert (tmp_path / "out" / "items.summary.json").is_file()
    assert (tmp_path / "out" / "items" / "00001-red.mp4").stat().st_size > 0
    assert (tmp_path / "out" / "items" / "00002-blue.mp4").stat().st_size > 0
    records = json.loads((tmp_path / "out" / ".i2v" / "jobs.json").read_text())
    assert sorted(r["source"]["key"] for r in records) == ["uploads/items.csv"] * 3  # the images were no jobs
