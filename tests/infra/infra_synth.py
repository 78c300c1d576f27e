"""One synthesized variant of the CDK app and the helpers the infrastructure tests read it with.

A module of its own (not conftest.py) so test modules can import the ``Synth`` type by a unique name;
tests/infra/conftest.py puts this folder on the import path.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from i2v_infra.resources import FUNCTIONS

REPO_ROOT = Path(__file__).resolve().parents[2]
SKIP_BUNDLING: dict[str, list[str]] = {"aws:cdk:bundling-stacks": []}
REPORT_ONLY: dict[str, bool] = {"@aws-cdk/core:failSynthOnValidationErrors": False}
# The "existing" variant: an existing bucket and secret, with both email subscriptions.
EXISTING = {
    "bucketName": "existing-i2v-bucket",
    "apiKeySecretName": "prod/highway-api-key",
    "alarmEmail": "ops@example.com",
    "notificationEmail": "team@example.com",
}
# Spend budgets and a price of its own (issue 13 item 2), as `-c` would give them (text) and as cdk.json would.
BUDGETS = {
    "budgetDailyUsd": "20",
    "budgetMonthlyUsd": 400.5,
    "budgetAction": "fail",
    "prices": {"Professional": {"10": 0.9}},
}


def _node_major() -> str:
    """jsii's end-of-life warning is silenced per Node major version (e.g. "20"), not by "1"."""
    try:
        return subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"], capture_output=True,
                              text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", _node_major())


def cdk_json_context() -> dict[str, Any]:
    return dict(json.loads((REPO_ROOT / "cdk.json").read_text())["context"])


@dataclass
class Synth:
    """One synthesized variant of the app."""

    app: Any
    stack: Any
    outdir: Path
    template: Any  # aws_cdk.assertions.Template
    cfn: dict[str, Any]  # the template as JSON

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{self.stack.stack_name}.template.json"

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.cfn["Resources"].items() if v["Type"] == cfn_type}

    def one(self, cfn_type: str, containing: str = "") -> tuple[str, dict[str, Any]]:
        found = [(k, v) for k, v in self.resources(cfn_type).items() if containing in k]
        assert len(found) == 1, f"expected one {cfn_type} with {containing!r} in its id, got {[k for k, _ in found]}"
        return found[0]

    def logical(self, *path: str) -> str:
        """Logical id of the CloudFormation resource of the construct at ``path`` under the stack."""
        node: Any = self.stack
        for part in path:
            node = node.node.find_child(part)
        return str(self.stack.get_logical_id(node.node.default_child or node))

    def resource(self, *path: str) -> dict[str, Any]:
        return dict(self.cfn["Resources"][self.logical(*path)])

    def function_id(self, name: str) -> str:
        """Logical id of the pipeline function ``name`` (constants.FN_*)."""
        return self.logical("Functions", FUNCTIONS[name].construct_id)

    def function(self, name: str) -> dict[str, Any]:
        """Properties of the pipeline function ``name`` (constants.FN_*)."""
        return dict(self.cfn["Resources"][self.function_id(name)]["Properties"])

    def role_statements(self, name: str) -> list[dict[str, Any]]:
        """IAM statements of the pipeline function's role (its default policy)."""
        policy = self.resource("Functions", f"{FUNCTIONS[name].construct_id}Role", "DefaultPolicy")
        return list(policy["Properties"]["PolicyDocument"]["Statement"])

    def validation_report(self) -> dict[str, Any]:
        path = self.outdir / "validation-report.json"
        return dict(json.loads(path.read_text())) if path.exists() else {"pluginReports": []}


def synthesize(outdir: Path, **context: Any) -> Synth:
    from aws_cdk.assertions import Template

    from i2v_infra.app import build_app

    app, stack = build_app({**cdk_json_context(), **SKIP_BUNDLING, **REPORT_ONLY, **context}, outdir=str(outdir))
    app.synth()
    cfn = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    return Synth(app=app, stack=stack, outdir=outdir, template=Template.from_json(cfn), cfn=cfn)
