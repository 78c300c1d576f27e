"""Every end-to-end test runs with IAM on, the clouds that the command line starts in a process of its
own included (i2v local, i2v demo, i2v up): they read the synthesized roles from the file named by
I2V_LOCAL_IAM_POLICIES and log each refusal, and a test whose clouds were refused anything fails.
(The in-process Pipeline of tests/support.py checks its own cloud's refusals.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from i2v_local.iam import ENV_DENIED_LOG, ENV_POLICIES
from support import template_roles


@pytest.fixture(scope="session")
def role_policies_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipeline's roles as synthesized, once per test run."""
    path = tmp_path_factory.mktemp("iam") / "role-policies.json"
    template_roles().save(path)
    return path


@pytest.fixture(autouse=True)
def iam_everywhere(role_policies_file: Path, tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch):
    denied_log = tmp_path_factory.mktemp("iam-denied") / "denied.jsonl"
    monkeypatch.setenv(ENV_POLICIES, str(role_policies_file))
    monkeypatch.setenv(ENV_DENIED_LOG, str(denied_log))
    yield
    if denied_log.exists():
        refused = sorted({(d["function"], d["action"], d["resource"])
                          for d in map(json.loads, denied_log.read_text().splitlines())})
        if refused:
            pytest.fail("a local cloud refused calls the pipeline's roles do not allow (a missing permission in "
                        "infra/i2v_infra, or a call the function should not make):\n"
                        + "\n".join(f"  {f}: {a} on {r}" for f, a, r in refused))
