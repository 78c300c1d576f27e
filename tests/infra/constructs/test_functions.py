"""PipelineFunctions: the four functions from their description, their handlers, log groups and roles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from infra_synth import Synth

from i2v import constants as c
from i2v_infra.resources import FUNCTIONS

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[3]
SPECS = {  # name -> (handler, timeout, memory): written out, so a change to the description shows here too
    c.FN_INTAKE: ("i2v.handlers.intake.handler", 60, 512),
    c.FN_DISPATCH: ("i2v.handlers.dispatch.handler", 120, 512),
    c.FN_STATUS: ("i2v.handlers.status.handler", 45, 256),
    c.FN_STORE: ("i2v.handlers.store.handler", 300, 1024),
}


def test_the_pipeline_has_four_functions(default_synth: Synth) -> None:
    assert set(FUNCTIONS) == set(SPECS) == set(c.FUNCTIONS)
    pipeline = [k for k in default_synth.resources("AWS::Lambda::Function") if k.startswith("Functions")]
    assert sorted(pipeline) == sorted(default_synth.function_id(name) for name in SPECS)


@pytest.mark.parametrize("name", SPECS)
def test_function_settings(default_synth: Synth, name: str) -> None:
    handler, timeout, memory = SPECS[name]
    props = default_synth.function(name)
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Handler"] == handler
    assert props["Timeout"] == timeout == c.FUNCTION_TIMEOUT_SECONDS[name]
    assert props["MemorySize"] == memory
    log_group = default_synth.logical("Functions", f"{FUNCTIONS[name].construct_id}Logs")
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": log_group}
    assert default_synth.cfn["Resources"][log_group]["Properties"]["RetentionInDays"] == 30


def test_memory_knob_sets_one_function(tmp_path: Path) -> None:
    from infra_synth import synthesize

    synth = synthesize(tmp_path, lambdaMemoryMb={"store": 2048})
    assert synth.function(c.FN_STORE)["MemorySize"] == 2048
    assert synth.function(c.FN_STATUS)["MemorySize"] == SPECS[c.FN_STATUS][2]


def test_store_has_the_longest_timeout_and_the_most_memory(default_synth: Synth) -> None:
    store = default_synth.function(c.FN_STORE)
    for other in (c.FN_INTAKE, c.FN_DISPATCH, c.FN_STATUS):
        assert store["Timeout"] > default_synth.function(other)["Timeout"]
        assert store["MemorySize"] > default_synth.function(other)["MemorySize"]


def test_each_function_has_its_own_role_without_managed_policies(default_synth: Synth) -> None:
    roles = {default_synth.function(name)["Role"]["Fn::GetAtt"][0] for name in SPECS}
    assert len(roles) == len(SPECS)
    for role in roles:
        assert "ManagedPolicyArns" not in default_synth.cfn["Resources"][role]["Properties"]


def test_all_functions_share_one_code_asset(default_synth: Synth) -> None:
    codes = {str(default_synth.function(name)["Code"]) for name in SPECS}
    assert len(codes) == 1


@pytest.mark.parametrize("name", SPECS)
def test_handler_exists_in_the_functions_package(name: str) -> None:
    """The handler path points at a module that defines `handler` (checked without importing it)."""
    module, attribute = SPECS[name][0].rsplit(".", 1)
    path = REPO_ROOT / "functions" / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text())
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    names |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    assert attribute in names
