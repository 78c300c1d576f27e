"""The functions' code asset: installed from the lock file with hashes, bundled without Docker.

What is deployed is what was tested: `functions/requirements.txt` is generated from `uv.lock`
(`uv export --frozen --no-dev --no-emit-project --format requirements-txt`, pruned to the packages the
functions need beyond the Lambda runtime's boto3), every line pinned with the hashes of the locked
files, and installed with `--require-hashes`. Regenerate it after `uv lock` with
`python -m i2v_infra.bundling`; bundling refuses a file that no longer matches the lock, and so does
tests/infra/test_bundling.py.

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
import re
import shutil
import subprocess
import sys
import tomllib
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
# The project's dependencies the functions import (the runtime provides boto3); the lock decides versions.
LAMBDA_PACKAGES = ("aws-lambda-powertools", "requests")
REQUIREMENTS_HEADER = (
    "# Generated from uv.lock by `python -m i2v_infra.bundling`: do not edit. The Lambda bundle installs\n"
    "# exactly these, with --require-hashes (infra/i2v_infra/bundling.py); boto3 comes with the runtime.\n")


# The Docker fallback does the same: the locked, hashed requirements, then the package, then the prune.
DOCKER_COMMAND = ["bash", "-c", (f"pip install --no-compile --require-hashes -r {REQUIREMENTS} -t /asset-output "
                                 f"&& cp -r {PACKAGE} /asset-output/ "
                                 "&& rm -rf /asset-output/botocore /asset-output/botocore-*.dist-info "
                                 "/asset-output/bin")]


class StaleRequirements(RuntimeError):
    """functions/requirements.txt no longer matches uv.lock."""
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
                "--python-version", PYTHON_VERSION, "--only-binary", ":all:", "--no-compile", "--require-hashes",
                "-r", str(requirements)]
    return [*prefix, "install", "--quiet", "--disable-pip-version-check", "--no-compile", "--no-warn-conflicts",
            "--target", target, "--platform", PIP_PLATFORM, "--implementation", "cp",
            "--python-version", PYTHON_VERSION, "--only-binary=:all:", "--require-hashes", "-r", str(requirements)]


def find_uv() -> str | None:
    tools = REPO_ROOT / ".tools" / "bin" / "uv"  # the Makefile's bootstrap venv
    return str(tools) if tools.exists() else shutil.which("uv")


def project_dependencies(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """Names of the project's runtime dependencies (extras and versions stripped)."""
    declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    return [re.split(r"[\[<>=!~; ]", entry, maxsplit=1)[0].strip().lower() for entry in declared]


def export_command(uv: str, pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """`uv export` of the lock, pruned to the functions' packages and what they pull in."""
    pruned = sorted(set(project_dependencies(pyproject)) - set(LAMBDA_PACKAGES))
    return [uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--format", "requirements-txt", "--no-header",
            "--project", str(pyproject.parent), *(f"--prune={name}" for name in pruned)]


def locked_requirements(uv: str | None = None, *, run: Runner = subprocess.run) -> str:
    """The requirements file the lock implies now (what functions/requirements.txt must hold)."""
    uv = uv or find_uv()
    if uv is None:
        raise StaleRequirements("uv is needed to read uv.lock (make install bootstraps it into .tools/bin)")
    reply = run(export_command(uv), check=True, capture_output=True, text=True,
                env={**os.environ, "UV_NO_PROGRESS": "1"})
    return REQUIREMENTS_HEADER + str(reply.stdout)


def check_requirements(source_dir: Path = FUNCTIONS_DIR, uv: str | None = None, *,
                       run: Runner = subprocess.run) -> None:
    """Raise StaleRequirements when the bundle's requirements differ from what uv.lock says."""
    if (source_dir / REQUIREMENTS).read_text(encoding="utf-8") != locked_requirements(uv, run=run):
        raise StaleRequirements(f"{source_dir / REQUIREMENTS} does not match uv.lock: run "
                                "`.venv/bin/python -m i2v_infra.bundling` to regenerate it from the lock")


def write_requirements(source_dir: Path = FUNCTIONS_DIR) -> Path:
    path = source_dir / REQUIREMENTS
    path.write_text(locked_requirements(), encoding="utf-8")
    return path


def prune(output_dir: Path) -> None:
    for pattern in PRUNE:
        for path in output_dir.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()


@jsii.implements(cdk.ILocalBundling)
class LocalPipBundler:
    """Builds the asset on this machine; returns False (Docker fallback) only when no pip exists."""

    def __init__(self, source_dir: Path = FUNCTIONS_DIR, *, run: Runner = subprocess.run,
                 installer: tuple[str, list[str]] | None = None, uv: str | None = None,
                 check_lock: bool = True) -> None:
        self._source_dir = Path(source_dir)
        self._run = run
        self._installer = installer
        self._uv = uv
        self._check_lock = check_lock

    def try_bundle(self, output_dir: str, options: Any = None, **_: Any) -> bool:
        installer = self._installer or find_installer()
        if installer is None:
            print("i2v bundling: no pip or uv found; falling back to Docker", file=sys.stderr)
            return False
        if self._check_lock:  # what is deployed is what the tests ran with
            check_requirements(self._source_dir, self._uv, run=self._run)
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
    """The one code asset all the functions share (handlers differ)."""
    return lambda_.Code.from_asset(
        str(source_dir),
        exclude=["**/__pycache__", "**/*.pyc", ".pytest_cache"],
        bundling=cdk.BundlingOptions(
            image=cdk.DockerImage.from_registry(DOCKER_IMAGE),
            platform="linux/arm64",
            command=DOCKER_COMMAND,
            local=LocalPipBundler(source_dir),
        ),
    )


if __name__ == "__main__":
    print(f"wrote {write_requirements()}")
