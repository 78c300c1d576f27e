"""The Docker-free bundler: the pip command it runs and what lands in the asset.

The real install (wheels for arm64 / Python 3.13 from PyPI) runs only with I2V_TEST_BUNDLING=1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from i2v_infra import bundling
from i2v_infra.bundling import FUNCTIONS_DIR, LocalPipBundler, install_command

pytestmark = pytest.mark.infra


def _fake_functions(root: Path) -> Path:
    (root / "i2v" / "handlers").mkdir(parents=True)
    (root / "i2v" / "__init__.py").write_text("")
    (root / "i2v" / "handlers" / "intake.py").write_text("def handler(event, context):\n    return {}\n")
    (root / "i2v" / "__pycache__").mkdir()
    (root / "i2v" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (root / "requirements.txt").write_text("requests==2.34.2\n")
    return root


def test_pip_command_targets_lambda_arm64_python_313(tmp_path: Path) -> None:
    command = install_command("pip", ["pip"], Path("functions/requirements.txt"), str(tmp_path))
    assert command[:2] == ["pip", "install"]
    joined = " ".join(command)
    for part in ("--target " + str(tmp_path), "--platform manylinux2014_aarch64", "--python-version 3.13",
                 "--only-binary=:all:", "-r functions/requirements.txt", "--implementation cp"):
        assert part in joined


def test_uv_command_asks_for_the_same_platform(tmp_path: Path) -> None:
    joined = " ".join(install_command("uv", ["uv", "pip"], Path("r.txt"), str(tmp_path)))
    for part in ("--python-platform aarch64-manylinux2014", "--python-version 3.13", "--only-binary :all:",
                 "--target " + str(tmp_path)):
        assert part in joined


def test_bundler_installs_requirements_and_copies_the_package(tmp_path: Path) -> None:
    source = _fake_functions(tmp_path / "functions")
    out = tmp_path / "out"
    out.mkdir()
    calls: list[tuple[list[str], dict[str, Any]]] = []

    def fake_pip(cmd: list[str], **kw: Any) -> None:  # what pip would leave: packages, botocore (via aws-xray-sdk), scripts
        calls.append((cmd, kw))
        for name in ("requests", "botocore", "botocore-1.44.8.dist-info", "bin"):
            (out / name).mkdir()

    bundler = LocalPipBundler(source, run=fake_pip, installer=("pip", ["pip"]))
    assert bundler.try_bundle(str(out), None) is True
    [(command, kwargs)] = calls
    assert kwargs["check"] is True
    assert command[command.index("-r") + 1] == str(source / "requirements.txt")
    assert (out / "i2v" / "handlers" / "intake.py").exists()
    assert not (out / "i2v" / "__pycache__").exists()
    assert sorted(p.name for p in out.iterdir()) == ["i2v", "requests"]  # the runtime provides botocore


def test_bundler_falls_back_to_docker_when_no_installer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundling, "find_installer", lambda: None)
    assert LocalPipBundler(_fake_functions(tmp_path / "f")).try_bundle(str(tmp_path / "out")) is False


def test_requirements_pin_the_runtime_dependencies() -> None:
    lines = [line.strip() for line in (FUNCTIONS_DIR / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == ["aws-lambda-powertools[tracer]==3.37.0", "requests==2.34.2"]


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
