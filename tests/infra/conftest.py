"""Synthesizes the CDK app once per variant per session (synth takes seconds) and shares the result.

Bundling is skipped (`aws:cdk:bundling-stacks=[]`), so no pip, Docker, network or AWS account is used.
cdk-nag findings do not stop synth here (`failSynthOnValidationErrors=false`): the tests collect them
and assert there are none, which gives a readable failure instead of an exception in a fixture.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def _node_major() -> str:
    """jsii's end-of-life warning is silenced per Node major version (e.g. "20"), not by "1"."""
    try:
        return subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"], capture_output=True,
                              text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", _node_major())

REPO_ROOT = Path(__file__).resolve().parents[2]
SKIP_BUNDLING = {"aws:cdk:bundling-stacks": []}
REPORT_ONLY = {"@aws-cdk/core:failSynthOnValidationErrors": False}

EXISTING = {
    "bucketName": "existing-i2v-bucket",
    "apiKeySecretName": "prod/highway-api-key",
    "alarmEmail": "ops@example.com",
    "notificationEmail": "team@example.com",
}


def cdk_json_context() -> dict[str, Any]:
    return json.loads((REPO_ROOT / "cdk.json").read_text())["context"]


@dataclass
class Synth:
    """One synthesized variant of the app."""

    app: Any
    stack: Any
    outdir: Path
    template: Any  # aws_cdk.assertions.Template
    cfn: dict[str, Any]  # the template as JSON

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.cfn["Resources"].items() if v["Type"] == cfn_type}

    def one(self, cfn_type: str, containing: str = "") -> tuple[str, dict[str, Any]]:
        found = [(k, v) for k, v in self.resources(cfn_type).items() if containing in k]
        assert len(found) == 1, f"expected one {cfn_type} with {containing!r} in its id, got {[k for k, _ in found]}"
        return found[0]

    def function(self, name: str) -> dict[str, Any]:
        """Properties of the pipeline function whose logical id contains Functions<name>."""
        return self.one("AWS::Lambda::Function", f"Functions{name}")[1]["Properties"]

    def role_statements(self, name: str) -> list[dict[str, Any]]:
        """IAM statements of the pipeline function's role (its default policy)."""
        _, policy = self.one("AWS::IAM::Policy", f"Functions{name}Role")
        return policy["Properties"]["PolicyDocument"]["Statement"]

    def validation_report(self) -> dict[str, Any]:
        path = self.outdir / "validation-report.json"
        return json.loads(path.read_text()) if path.exists() else {"pluginReports": []}


def synthesize(tmp_path_factory: pytest.TempPathFactory, name: str, **context: Any) -> Synth:
    from aws_cdk.assertions import Template

    from i2v_infra.app import build_app

    outdir = tmp_path_factory.mktemp(f"cdk-{name}")
    app, stack = build_app({**cdk_json_context(), **SKIP_BUNDLING, **REPORT_ONLY, **context}, outdir=str(outdir))
    app.synth()
    cfn = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    return Synth(app=app, stack=stack, outdir=outdir, template=Template.from_json(cfn), cfn=cfn)


@pytest.fixture(scope="session")
def default_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The app as `cdk synth` builds it from cdk.json: a new bucket and a new secret."""
    return synthesize(tmp_path_factory, "default")


@pytest.fixture(scope="session")
def existing_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """An existing bucket and secret, with both email subscriptions."""
    return synthesize(tmp_path_factory, "existing", **EXISTING)


@pytest.fixture(scope="session")
def destroy_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """removalPolicy=destroy: a throwaway deployment whose data goes with the stack."""
    return synthesize(tmp_path_factory, "destroy", removalPolicy="destroy")


@pytest.fixture(scope="session", params=["default", "existing", "destroy"])
def any_synth(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(f"{request.param}_synth")
