"""How many Step Functions state transitions a job costs, read from the real ASL definition.

Standard workflows bill every state entered (Wait, Task, Choice, Succeed ... each is one transition).
Instead of hard-coding "3 per poll", this walks infra/i2v_infra/workflow/pipeline.asl.json with a job
whose status check answers "still running" n-1 times and then "succeeded" (or "failed").
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache, lru_cache
from pathlib import Path

ASL_PATH = Path(__file__).resolve().parent.parent / "i2v_infra" / "workflow" / "pipeline.asl.json"
STATUS_FUNCTION = "${StatusFunctionArn}"


@lru_cache(maxsize=1)
def definition() -> dict:
    return json.loads(ASL_PATH.read_text(encoding="utf-8"))


def _lookup(document: dict, path: str):
    value = document
    for part in path.removeprefix("$.").split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _matches(rule: dict, document: dict) -> bool:
    value = _lookup(document, rule["Variable"])
    if "IsNull" in rule:
        return (value is None) == bool(rule["IsNull"])
    if "StringEquals" in rule:
        return value == rule["StringEquals"]
    raise ValueError(f"choice rule not understood by the benchmark's ASL walker: {rule}")


def walk(polls: int, outcome: str = "SUCCEEDED") -> Counter:
    """States entered by one job whose n-th status check sees the task end with ``outcome``."""
    if polls < 1:
        raise ValueError("a job is polled at least once")
    asl = definition()
    document = {"error": None, "poll": {"state": "WAITING"}}
    entered: Counter = Counter()
    name, checks = asl["StartAt"], 0
    for _step in range(10 * polls + 100):
        state = asl["States"][name]
        entered[name] += 1
        kind = state["Type"]
        if kind in ("Succeed", "Fail"):
            return entered
        if kind == "Choice":
            name = next((rule["Next"] for rule in state["Choices"] if _matches(rule, document)), state.get("Default"))
            continue
        if kind == "Task" and (state.get("Parameters") or {}).get("FunctionName") == STATUS_FUNCTION:
            checks += 1
            document["poll"]["state"] = outcome if checks >= polls else "WAITING"
        if state.get("End"):
            return entered
        name = state["Next"]
    raise RuntimeError("the ASL walk did not end; is there a loop the benchmark does not understand?")


@cache
def transitions(polls: int, outcome: str = "SUCCEEDED") -> int:
    return sum(walk(polls, outcome).values())


def cycle() -> dict:
    """The states one extra poll adds, and the fixed part every job pays."""
    one, two = walk(1), walk(2)
    per_poll = {name: two[name] - one[name] for name in two if two[name] != one[name]}
    fixed = {name: one[name] - per_poll.get(name, 0) for name in one if one[name] - per_poll.get(name, 0)}
    return {"per_poll": per_poll, "per_job": fixed, "per_poll_count": sum(per_poll.values()),
            "per_job_count": sum(fixed.values())}
