"""The functions' code asset, bundled without Docker.

`pip install --target` with `--platform manylinux2014_aarch64 --python-version 3.13 --only-binary=:all:`
fetches wheels for the Lambda runtime (arm64, Python 3.13) from any machine; then the `i2v` package
is copied beside them. Docker is only the fallback CDK requires an image for: it is used when no pip
can be found here.

botocore, pulled in by aws-xray-sdk (the `[tracer]` extra), is removed from the bundle: the Lambda
runtime ships boto3 with its matching botocore, and a second, newer botocore in /var/task would shadow
it (30 of the bundle's 40 MB, and a boto3/botocore version mismatch).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
PACKAGE = "i2v"
REQUIREMENTS = "requirements.txt"
PYTHON_VERSION = "3.13"
PIP_PLATFORM = "manylinux2014_aarch64"
UV_PLATFORM = "aarch64-manylinux2014"
DOCKER_IMAGE = "public.ecr.aws/sam/build-python3.13:latest-arm64"
PRUNE = ("botocore", "botocore-*.dist-info", "bin")  # provided by the runtime / console scripts
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache")

Runner = Callable[..., Any]


def find_installer() -> tuple[str, list[str]] | None:
    """("pip" | "uv", command prefix) of an installer on this machine, or None.

    The project venv is made by uv and has no pip: then the Makefile's tool venv (.tools), uv, or any
    pip on PATH (the target platform is given explicitly, so the interpreter running pip does not matter).
    """
    if importlib.util.find_spec("pip") is not None:
        return "pip", [sys.executable, "-m", "pip"]
    tools = REPO_ROOT / ".tools" / "bin"  # the Makefile's bootstrap venv (pip + uv)
    if (tools / "pip").exists():
        return "pip", [str(tools / "pip")]
    if uv := shutil.which("uv") or ((tools / "uv").exists() and str(tools / "uv")):
        return "uv", [uv, "pip"]
    for name in ("pip3", "pip"):
        if pip := shutil.which(name):
            return "pip", [pip]
    return None


def install_command(kind: str, prefix: Sequence[str], requirements: Path, target: str) -> list[str]:
    if kind == "uv":
        return [*prefix, "install", "--quiet", "--target", target, "--python-platform", UV_PLATFORM,
                "--python-version", PYTHON_VERSION, "--only-binary", ":all:", "--no-compile",
                "-r", str(requirements)]
    return [*prefix, "install", "--quiet", "--disable-pip-version-check", "--no-compile", "--no-warn-conflicts",
            "--target", target, "--platform", PIP_PLATFORM, "--implementation", "cp",
            "--python-version", PYTHON_VERSION, "--only-binary=:all:", "-r", str(requirements)]


def prune(output_dir: Path) -> None:
    for pattern in PRUNE:
        for path in output_dir.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()


@jsii.implements(cdk.ILocalBundling)
class LocalPipBundler:
    """Builds the asset on this machine; returns False (Docker fallback) only when no pip exists."""

    def __init__(self, source_dir: Path = FUNCTIONS_DIR, *, run: Runner = subprocess.run,
                 installer: tuple[str, list[str]] | None = None) -> None:
        self._source_dir = Path(source_dir)
        self._run = run
        self._installer = installer

    def try_bundle(self, output_dir: str, options: Any = None, **_: Any) -> bool:
        installer = self._installer or find_installer()
        if installer is None:
            print("i2v bundling: no pip or uv found; falling back to Docker", file=sys.stderr)
            return False
        kind, prefix = installer
        requirements = self._source_dir / REQUIREMENTS
        # The target is a fresh directory, not this machine's environment: pip's root-user warning
        # does not apply.
        environment = {**os.environ, "PIP_ROOT_USER_ACTION": "ignore"}
        self._run(install_command(kind, prefix, requirements, output_dir), check=True, env=environment)
        prune(Path(output_dir))
        shutil.copytree(self._source_dir / PACKAGE, Path(output_dir) / PACKAGE, ignore=_IGNORE,
                        dirs_exist_ok=True)
        return True


def function_code(source_dir: Path = FUNCTIONS_DIR) -> lambda_.Code:
    """The one code asset all three functions share (handlers differ)."""
    return lambda_.Code.from_asset(
        str(source_dir),
        exclude=["**/__pycache__", "**/*.pyc", ".pytest_cache"],
        bundling=cdk.BundlingOptions(
            image=cdk.DockerImage.from_registry(DOCKER_IMAGE),
            platform="linux/arm64",
            command=["bash", "-c", (f"pip install --no-compile -r {REQUIREMENTS} -t /asset-output "
                                    f"&& cp -r {PACKAGE} /asset-output/ "
                                    "&& rm -rf /asset-output/botocore /asset-output/botocore-*.dist-info "
                                    "/asset-output/bin")],
            local=LocalPipBundler(source_dir),
        ),
    )
