"""The dependency directions hold for every module, including ones added later.

`make lint` runs import-linter with the contracts in pyproject.toml; these tests keep those
contracts complete (a new module of the functions is forbidden to the CDK app until it is declared
a pure contract) and hold the contracts to the standard library, which import-linter cannot list.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions" / "i2v"
ALLOWED_TO_THE_CDK_APP = {"i2v.constants", "i2v.contracts"}


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _top_level_modules() -> set[str]:
    out = set()
    for path in FUNCTIONS.iterdir():
        if path.name.startswith("_") or path.name == "__pycache__":
            continue
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists()):
            out.add(f"i2v.{path.stem}")
    return out


def test_every_module_of_the_functions_is_either_a_pure_contract_or_forbidden_to_the_cdk_app():
    (contract,) = [c for c in _contracts() if c.get("source_modules") == ["i2v_infra"]]
    forbidden = set(contract["forbidden_modules"])
    undeclared = _top_level_modules() - forbidden - ALLOWED_TO_THE_CDK_APP
    assert not undeclared, (f"{sorted(undeclared)}: add to the CDK app's forbidden modules in pyproject.toml, or "
                            "make it a pure contract under i2v.contracts")


def test_every_module_of_the_functions_sits_in_a_layer():
    (contract,) = [c for c in _contracts() if c["type"] == "layers" and c["layers"][0].startswith("i2v.")]
    named = {name.strip() for layer in contract["layers"] for name in layer.replace("|", ":").split(":")}
    covered = {m.split(".")[0] + "." + m.split(".")[1] for m in named if m.count(".") >= 1}
    missing = _top_level_modules() - covered
    assert not missing, f"{sorted(missing)} belong in a layer of the functions' layers contract"


def test_every_module_of_the_benchmarks_sits_in_a_layer():
    (contract,) = [c for c in _contracts() if c["type"] == "layers" and c["layers"][0].startswith("i2v_bench.")]
    named = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    modules = {f"i2v_bench.{p.stem}" for p in (ROOT / "infra" / "i2v_bench").glob("*.py") if p.stem != "__init__"}
    assert modules - named == set(), "a module of the benchmarks belongs in a layer of their layers contract"


def test_the_contracts_and_constants_import_only_the_standard_library():
    files = [FUNCTIONS / "constants.py", *sorted((FUNCTIONS / "contracts").glob("*.py"))]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            for name in names:
                top = name.split(".")[0]
                inside = name == "i2v" or name.startswith(("i2v.constants", "i2v.contracts"))
                assert inside or top in sys.stdlib_module_names or top == "__future__", (
                    f"{path.relative_to(ROOT)} imports {name}: contracts are standard library only")


def test_no_test_imports_another_test_module():
    """Tests run with --import-mode=importlib: shared fakes and scenes are fixtures in a conftest.py, never
    imported from another test file (which would load a second copy of it)."""
    offenders = []
    for path in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n.split(".")[0] == "tests" or n.rsplit(".", 1)[-1].startswith("test_")]
    assert offenders == []
