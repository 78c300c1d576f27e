"""PipelineFunctions: three functions with the shared settings, their handlers and log groups."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[3]
SPECS = {  # name -> (handler, timeout, memory)
    "Submit": ("i2v.handlers.submit.handler", 60, 512),
    "Status": ("i2v.handlers.status.handler", 30, 256),
    "Store": ("i2v.handlers.store.handler", 300, 1024),
}


@pytest.mark.parametrize("name", SPECS)
def test_function_settings(default_synth, name):
    handler, timeout, memory = SPECS[name]
    props = default_synth.function(name)
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Handler"] == handler
    assert props["Timeout"] == timeout
    assert props["MemorySize"] == memory
    log_group, group = default_synth.one("AWS::Logs::LogGroup", f"Functions{name}Logs")
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": log_group}
    assert group["Properties"]["RetentionInDays"] == 30


def test_store_has_the_longest_timeout_and_the_most_memory(default_synth):
    store = default_synth.function("Store")
    for other in ("Submit", "Status"):
        assert store["Timeout"] > default_synth.function(other)["Timeout"]
        assert store["MemorySize"] > default_synth.function(other)["MemorySize"]


def test_roles_use_no_managed_policies(default_synth):
    for name in SPECS:
        _, role = default_synth.one("AWS::IAM::Role", f"Functions{name}Role")
        assert "ManagedPolicyArns" not in role["Properties"]


def test_all_functions_share_one_code_asset(default_synth):
    codes = {str(default_synth.function(name)["Code"]) for name in SPECS}
    assert len(codes) == 1


@pytest.mark.parametrize("name", SPECS)
def test_handler_exists_in_the_functions_package(name):
    """The handler path points at a module that defines `handler` (checked without importing it)."""
    module, attribute = SPECS[name][0].rsplit(".", 1)
    path = REPO_ROOT / "functions" / (module.replace(".", "/") + ".py")
    if not path.exists():
        pytest.skip(f"{path.relative_to(REPO_ROOT)} is not written yet")
    tree = ast.parse(path.read_text())
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    names |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    assert attribute in names
