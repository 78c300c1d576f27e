"""The Docker-free bundler: installed from the lock file with hashes, the command it runs, and what lands
in the asset (issue 11, finding 6: what is deployed is what was tested).

The real install (wheels for arm64 / Python 3.13 from PyPI) runs only with I2V_TEST_BUNDLING=1.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from i2v_infra import bundling
from i2v_infra.bundling import (
    FUNCTIONS_DIR,
    LAMBDA_PACKAGES,
    REPO_ROOT,
    LocalPipBundler,
    StaleRequirements,
    check_requirements,
    export_command,
    find_uv,
    install_command,
    locked_requirements,
)

pytestmark = pytest.mark.infra

LOCKED = "requests==2.34.2 \\\n    --hash=sha256:" + "0" * 64 + "\n"


def _fake_functions(root: Path, requirements: str = LOCKED) -> Path:
    (root / "i2v" / "handlers").mkdir(parents=True)
    (root / "i2v" / "__init__.py").write_text("")
    (root / "i2v" / "handlers" / "intake.py").write_text("def handler(event, context):\n    return {}\n")
    (root / "i2v" / "__pycache__").mkdir()
    (root / "i2v" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (root / "requirements.txt").write_text(bundling.REQUIREMENTS_HEADER + requirements)
    return root


class FakeRun:
    """Stands in for subprocess.run: answers `uv export` with ``exported``, records the install."""

    def __init__(self, out: Path | None, exported: str = LOCKED) -> None:
        self.out = out
        self.exported = exported
        self.installs: list[tuple[list[str], dict[str, Any]]] = []

    def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        if command[1] == "export":
            return subprocess.CompletedProcess(command, 0, stdout=self.exported, stderr="")
        self.installs.append((command, kwargs))
        assert self.out is not None
        for name in ("requests", "botocore", "botocore-1.44.8.dist-info", "bin"):  # what pip would leave
            (self.out / name).mkdir()
        return subprocess.CompletedProcess(command, 0, stdout="", stderr="")


# --- the requirements come from the lock, with hashes ----------------------------------------------

def _requirements() -> list[tuple[str, str, list[str]]]:
    """(name, version, hashes) of every requirement in functions/requirements.txt."""
    text = (FUNCTIONS_DIR / "requirements.txt").read_text()
    out = []
    for block in re.split(r"\n(?=[a-z0-9])", text):
        match = re.match(r"^([a-z0-9._-]+)==([^\s;\\]+)", block)
        if match:
            out.append((match.group(1), match.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", block)))
    return out


def test_requirements_file_is_what_the_lock_says_now() -> None:
    """A `uv lock` without regenerating the bundle's requirements fails here (and at bundling)."""
    uv = find_uv()
    assert uv, "uv is needed: `make install` bootstraps it into .tools/bin"
    check_requirements(FUNCTIONS_DIR, uv)


def test_every_requirement_is_pinned_with_the_locked_hashes() -> None:
    lock = {p["name"]: p for p in tomllib.loads((REPO_ROOT / "uv.lock").read_text())["package"]}
    requirements = _requirements()
    assert requirements
    for name, version, hashes in requirements:
        assert hashes, f"{name} has no hash"
        locked = lock[name]
        assert locked["version"] == version, name
        files = [w["hash"] for w in locked.get("wheels", [])] + ([locked["sdist"]["hash"]] if "sdist" in locked else [])
        assert {f"sha256:{h}" for h in hashes} <= set(files), name


def test_the_bundle_holds_the_functions_packages_and_nothing_of_the_tools() -> None:
    names = {name for name, _, _ in _requirements()}
    assert set(LAMBDA_PACKAGES) <= names
    assert "aws-xray-sdk" in names  # Powertools' [tracer] extra
    for tool in ("boto3", "moto", "aws-cdk-lib", "cdk-nag", "numpy", "pillow", "typer", "jsii"):
        assert tool not in names, tool


def test_the_functions_packages_are_declared_at_the_locked_versions() -> None:
    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {re.split(r"[\[=]", d, maxsplit=1)[0]: d.split("==")[1] for d in declared if "==" in d}
    versions = {name: version for name, version, _ in _requirements()}
    for package in LAMBDA_PACKAGES:
        assert versions[package] == pins[package], package


def test_export_prunes_every_other_project_dependency() -> None:
    command = export_command("uv")
    assert command[:8] == ["uv", "export", "--frozen", "--no-dev", "--no-emit-project", "--format",
                           "requirements-txt", "--no-header"]
    pruned = {c.removeprefix("--prune=") for c in command if c.startswith("--prune=")}
    assert {"moto", "aws-cdk-lib", "boto3", "cdk-monitoring-constructs"} <= pruned
    assert not pruned & set(LAMBDA_PACKAGES)


def test_a_stale_requirements_file_stops_bundling(tmp_path: Path) -> None:
    source = _fake_functions(tmp_path / "functions", requirements="requests==2.33.0 \\\n    --hash=sha256:" + "1" * 64 + "\n")
    out = tmp_path / "out"
    out.mkdir()
    run = FakeRun(out)
    with pytest.raises(StaleRequirements, match="does not match uv.lock"):
        LocalPipBundler(source, run=run, installer=("pip", ["pip"]), uv="uv").try_bundle(str(out))
    assert run.installs == []


def test_locked_requirements_needs_uv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundling, "find_uv", lambda: None)
    with pytest.raises(StaleRequirements, match="uv is needed"):
        locked_requirements()


# --- the install command ---------------------------------------------------------------------------

def test_pip_command_targets_lambda_arm64_python_313_with_hashes(tmp_path: Path) -> None:
    command = install_command("pip", ["pip"], Path("functions/requirements.txt"), str(tmp_path))
    assert command[:2] == ["pip", "install"]
    joined = " ".join(command)
    for part in ("--target " + str(tmp_path), "--platform manylinux2014_aarch64", "--python-version 3.13",
                 "--only-binary=:all:", "-r functions/requirements.txt", "--implementation cp", "--require-hashes"):
        assert part in joined


def test_uv_command_asks_for_the_same_platform_with_hashes(tmp_path: Path) -> None:
    joined = " ".join(install_command("uv", ["uv", "pip"], Path("r.txt"), str(tmp_path)))
    for part in ("--python-platform aarch64-manylinux2014", "--python-version 3.13", "--only-binary :all:",
                 "--target " + str(tmp_path), "--require-hashes"):
        assert part in joined


def test_docker_fallback_installs_with_hashes_too() -> None:
    assert "--require-hashes -r requirements.txt" in bundling.DOCKER_COMMAND[-1]


def test_bundler_installs_requirements_and_copies_the_package(tmp_path: Path) -> None:
    source = _fake_functions(tmp_path / "functions")
    out = tmp_path / "out"
    out.mkdir()
    run = FakeRun(out)
    bundler = LocalPipBundler(source, run=run, installer=("pip", ["pip"]), uv="uv")
    assert bundler.try_bundle(str(out), None) is True
    [(command, kwargs)] = run.installs
    assert kwargs["check"] is True
    assert command[command.index("-r") + 1] == str(source / "requirements.txt")
    assert "--require-hashes" in command
    assert (out / "i2v" / "handlers" / "intake.py").exists()
    assert not (out / "i2v" / "__pycache__").exists()
    assert sorted(p.name for p in out.iterdir()) == ["i2v", "requests"]  # the runtime provides botocore


def test_bundler_falls_back_to_docker_when_no_installer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundling, "find_installer", lambda: None)
    assert LocalPipBundler(_fake_functions(tmp_path / "f")).try_bundle(str(tmp_path / "out")) is False


@pytest.mark.skipif(os.environ.get("I2V_TEST_BUNDLING") != "1", reason="set I2V_TEST_BUNDLING=1 (needs PyPI)")
def test_real_bundle_has_arm64_wheels_and_the_package(tmp_path: Path) -> None:
    out = tmp_path / "asset"
    out.mkdir()
    assert LocalPipBundler().try_bundle(str(out)) is True
    assert (out / "i2v" / "constants.py").exists()
    assert (out / "aws_lambda_powertools").is_dir()
    assert (out / "requests").is_dir()
    assert (out / "aws_xray_sdk").is_dir()  # the [tracer] extra
    assert not (out / "botocore").exists()
    native = list(out.rglob("*.so"))
    assert all("x86_64" not in p.name for p in native), native
    assert not list(out.rglob("__pycache__"))
