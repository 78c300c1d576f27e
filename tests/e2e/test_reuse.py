"""Pay once per content and spend budgets through the embedded cloud and the provider simulator
(issue 13, items 1 and 2; README, "Pay once per content" and "Spend budgets")."""

from __future__ import annotations

import time

import pytest
import requests

from support import Pipeline, image_bytes

pytestmark = pytest.mark.e2e

CAT = image_bytes(640, 480, "PNG", color=(30, 120, 200))
META = {"prompt": "the cat turns its head"}


def _notes(p: Pipeline, count: int, timeout: float = 90, settle: float = 0.0) -> list[dict]:
    return [m["notification"] for m in p.wait_for(count, timeout=timeout, settle=settle)]


def _served(note: dict) -> bytes:
    return requests.get(note["output"]["url"], timeout=10).content


def test_the_same_bytes_uploaded_later_are_copied_not_paid_again(notification_validator):
    with Pipeline(speed=60) as p:
        p.put("uploads/shop/cat.png", CAT, META)
        [made] = _notes(p, 1)
        p.put("uploads/nightly-sync/cat-copy.png", CAT, META)  # a copy in another folder, under another name
        made, copied = _notes(p, 2, settle=2)
        stats = p.sim.stats()
        bodies = [_served(made), _served(copied)]
    assert stats["tasks_created"] == 1
    for note in (made, copied):
        notification_validator.validate(note)
        assert note["status"] == "SUCCEEDED", note["error"]
    assert "reused_from" not in made and copied["reused_from"] == made["job_id"]
    assert made["cost"] == {"estimated_usd": 0.13} and copied["cost"] == {"estimated_usd": 0.0}
    assert copied["output"]["key"] == "outputs/nightly-sync/cat-copy.mp4"
    assert bodies[0] == bodies[1] and bodies[0][4:8] == b"ftyp"


def test_two_identical_uploads_at_once_make_one_paid_task_and_two_notifications(notification_validator):
    with Pipeline(speed=60) as p:
        p.put("uploads/a/cat.png", CAT, META)
        p.put("uploads/b/cat.png", CAT, META)
        notes = _notes(p, 2, settle=3)
        stats = p.sim.stats()
        bodies = {n["job_id"]: _served(n) for n in notes}
    assert len(notes) == 2 and all(n["status"] == "SUCCEEDED" for n in notes), notes
    for note in notes:
        notification_validator.validate(note)
    assert stats["tasks_created"] == 1
    [made] = [n for n in notes if "reused_from" not in n]
    [copied] = [n for n in notes if "reused_from" in n]
    assert copied["reused_from"] == made["job_id"] and copied["cost"]["estimated_usd"] == 0.0
    assert bodies[made["job_id"]] == bodies[copied["job_id"]]


def test_reuse_false_and_a_changed_prompt_are_paid_for():
    with Pipeline(speed=60) as p:
        p.put("uploads/cat.png", CAT, META)
        _notes(p, 1)
        p.put("uploads/fresh.png", CAT, {**META, "reuse": "false"})
        p.put("uploads/other.png", CAT, {"prompt": "the cat jumps"})
        notes = _notes(p, 3, settle=2)
        stats = p.sim.stats()
    assert stats["tasks_created"] == 3 and not any("reused_from" in n for n in notes)


def test_a_deleted_video_is_generated_again():
    with Pipeline(speed=60) as p:
        p.put("uploads/cat.png", CAT, META)
        [made] = _notes(p, 1)
        p.s3.delete_object(Bucket=p.bucket, Key="outputs/cat.mp4")
        p.put("uploads/again.png", CAT, META)
        made, again = _notes(p, 2, settle=2)
        stats = p.sim.stats()
    assert stats["tasks_created"] == 2 and "reused_from" not in again and again["status"] == "SUCCEEDED"


def _status(p: Pipeline, key: str) -> str | None:
    ddb = p.cloud.client("dynamodb")
    for item in ddb.scan(TableName=p.cloud.resources.tables["jobs"])["Items"]:
        if item.get("source", {}).get("M", {}).get("key", {}).get("S") == key:
            return item["status"]["S"]
    return None


def _spent_today(p: Pipeline) -> float:
    from i2v.spend import Periods

    item = p.cloud.client("dynamodb").get_item(
        TableName=p.cloud.resources.tables["control"],
        Key={"pk": {"S": f"spend#day#{Periods.at(time.time()).day}"}}, ConsistentRead=True).get("Item") or {}
    return float(item.get("usd", {}).get("N", "0"))


def test_a_tiny_daily_budget_holds_the_second_job_and_is_never_passed():
    """A budget of one Standard 5 s video: the first job is paid, the second waits in the backlog (QUEUED)
    through several of the dispatcher's rechecks; a copy of the first costs nothing and still goes."""
    speed = 60.0
    with Pipeline(speed=speed, cloud_knobs={"budget_daily_usd": 0.13}) as p:
        p.put("uploads/first.png", CAT, META)
        [first] = _notes(p, 1)
        p.put("uploads/second.png", image_bytes(640, 480, "PNG", color=(200, 30, 30)), META)
        p.put("uploads/copy.png", CAT, META)  # the first one's content: reused, no budget needed
        notes = _notes(p, 2, settle=3 * 300 / speed)  # three budget rechecks (300 provider seconds each)
        stats = p.sim.stats()
        second = _status(p, "uploads/second.png")
        spent = _spent_today(p)
    assert first["status"] == "SUCCEEDED" and first["cost"] == {"estimated_usd": 0.13}
    assert [n["source"]["key"] for n in notes] == ["uploads/first.png", "uploads/copy.png"]
    assert notes[1]["reused_from"] == first["job_id"]
    assert second == "QUEUED"  # it waits for the next day (or a raised budget)
    assert stats["tasks_created"] == 1 and spent == pytest.approx(0.13)


def test_budget_action_fail_ends_the_job_with_budget_exceeded(notification_validator):
    with Pipeline(speed=60, cloud_knobs={"budget_daily_usd": 0.2, "budget_action": "fail",
                                         "extra_env": {"I2V_PRICES": '{"Standard": {"5": 0.15}}'}}) as p:
        p.put("uploads/one.png", CAT, META)
        _notes(p, 1)
        p.put("uploads/two.png", image_bytes(640, 480, "PNG", color=(10, 200, 30)), META)
        one, two = _notes(p, 2, settle=1)
        stats = p.sim.stats()
    assert one["cost"] == {"estimated_usd": 0.15}  # the price table from the environment
    notification_validator.validate(two)
    assert two["status"] == "FAILED" and two["error"]["code"] == "BUDGET_EXCEEDED"
    assert two["cost"] == {"estimated_usd": 0.0} and stats["tasks_created"] == 1


# --- what a user types: `i2v local --budget-daily / --no-reuse`, `i2v jobs spend` --------------------------


def _i2v(*args: str, cwd=None, timeout: int = 240):
    import os
    import subprocess

    from support import I2V

    env = {k: v for k, v in os.environ.items() if k != "HIGHWAY_API_BASE_URL"}
    return subprocess.run([str(I2V), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_i2v_local_with_a_daily_budget_then_jobs_spend(tmp_path):
    import json

    (tmp_path / "a.png").write_bytes(CAT)
    (tmp_path / "b.png").write_bytes(image_bytes(640, 480, "PNG", color=(200, 30, 30)))
    (tmp_path / "a-copy.png").write_bytes(CAT)
    run = _i2v("local", "a.png", "b.png", "a-copy.png", "--budget-daily", "0.13", "--speed", "60", "--out", "out",
               "--json", cwd=tmp_path)
    assert run.returncode == 1, run.stderr[-2000:]  # one job still waits
    notes = {n["source"]["key"]: n for n in map(json.loads, run.stdout.splitlines())}
    assert set(notes) == {"uploads/a.png", "uploads/a-copy.png"}
    assert notes["uploads/a-copy.png"]["reused_from"] == notes["uploads/a.png"]["job_id"]
    assert "1 job(s) wait for the daily budget" in run.stderr
    spent = _i2v("jobs", "spend", "--local", "out", "--json", cwd=tmp_path)
    assert spent.returncode == 0, spent.stderr
    assert json.loads(spent.stdout)["today_usd"] == 0.13 and json.loads(spent.stdout)["month_usd"] == 0.13
    table = _i2v("jobs", "spend", "--local", "out", cwd=tmp_path)
    assert "spend today" in table.stdout and "$0.13" in table.stdout
    waiting = _i2v("jobs", "list", "--local", "out", "--status", "QUEUED", "--json", cwd=tmp_path)
    assert [json.loads(line)["source"]["key"] for line in waiting.stdout.splitlines()] == ["uploads/b.png"]


def test_i2v_local_no_reuse_pays_for_each(tmp_path):
    import json

    (tmp_path / "a.png").write_bytes(CAT)
    (tmp_path / "a-copy.png").write_bytes(CAT)
    run = _i2v("local", "a.png", "a-copy.png", "--no-reuse", "--speed", "60", "--out", "out", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    notes = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(notes) == 2 and not any("reused_from" in n for n in notes)
    assert all(n["request"]["reuse"] is False and n["cost"]["estimated_usd"] == 0.13 for n in notes)


def test_jobs_spend_against_a_live_local_cloud():
    import json

    with Pipeline(speed=60) as p:
        p.put("uploads/pro.png", CAT, {**META, "mode": "Professional", "duration": "10"})
        _notes(p, 1)
        spent = _i2v("jobs", "spend", "--endpoint-url", p.cloud.endpoint, "--json")
    assert spent.returncode == 0, spent.stderr
    assert json.loads(spent.stdout)["today_usd"] == 0.95 and json.loads(spent.stdout)["month_usd"] == 0.95


def test_a_bad_daily_budget_is_a_usage_error(tmp_path):
    (tmp_path / "a.png").write_bytes(CAT)
    run = _i2v("local", "a.png", "--budget-daily", "-1", cwd=tmp_path)
    assert run.returncode == 2 and "--budget-daily" in run.stderr
