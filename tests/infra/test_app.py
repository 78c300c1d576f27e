"""The app as a whole: cdk.json, cdk-nag (zero unacknowledged findings), cfn-lint (zero errors)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from infra_synth import Synth

from i2v_infra.config import AppConfig

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_JSON = json.loads((REPO_ROOT / "cdk.json").read_text())
KNOBS = {  # cdk.json knob -> AppConfig field
    "stackName": "stack_name", "uploadsPrefix": "uploads_prefix", "outputsPrefix": "outputs_prefix",
    "maxInFlight": "max_in_flight", "submitsPerMinute": "submits_per_minute", "removalPolicy": "removal_policy",
    "deadlineStandardSeconds": "deadline_standard_seconds",
    "deadlineProfessionalSeconds": "deadline_professional_seconds", "logRetentionDays": "log_retention_days",
}


def test_cdk_json_runs_the_app_module_with_the_repo_venv() -> None:
    assert CDK_JSON["app"] == ".venv/bin/python -m i2v_infra.app"
    assert "watch" not in CDK_JSON


def test_cdk_json_context_holds_only_known_knobs_at_their_documented_defaults() -> None:
    defaults = AppConfig()
    assert {f.name for f in fields(AppConfig)} >= set(KNOBS.values())
    for key, value in CDK_JSON["context"].items():
        assert key in KNOBS, f"cdk.json sets {key!r}, which is not a knob this test knows"
        assert getattr(defaults, KNOBS[key]) == value, f"cdk.json {key} differs from the config default"


def _nag_violations(synth: Synth) -> list[str]:
    from cdk_nag import AwsSolutionsChecks

    report = AwsSolutionsChecks().validate_scope(synth.app)
    return [f"{v.rule_name} at {[r.construct_path for r in v.violating_resources]}" for v in report.violations]


def test_cdk_nag_has_no_unacknowledged_findings(any_synth: Synth) -> None:
    assert _nag_violations(any_synth) == []


def test_synth_validation_report_has_no_violations(any_synth: Synth) -> None:
    """What `cdk synth` itself reports: cdk-nag runs as a validation plugin registered by build_app."""
    failing = [
        (plugin["pluginName"], violation["ruleName"])
        for plugin in any_synth.validation_report().get("pluginReports", [])
        for violation in plugin.get("violations", [])
    ]
    assert failing == []


def test_an_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    """build_app registers AwsSolutionsChecks: an unencrypted, HTTP-allowing queue must stop synth."""
    from aws_cdk import aws_sqs as sqs

    from i2v_infra.app import build_app

    app, stack = build_app({"aws:cdk:bundling-stacks": []}, outdir=str(tmp_path))
    sqs.Queue(stack, "Careless", encryption=sqs.QueueEncryption.UNENCRYPTED)
    with pytest.raises(Exception, match=r"AwsSolutions-SQS[234]"):
        app.synth()


def _with_partition(cfn: dict, partition: str) -> dict:
    """The template with the state machine's `${Partition}` filled in as CloudFormation would.

    cfn-lint checks the ASL inside DefinitionString and skips a value that is exactly one
    DefinitionSubstitutions placeholder, but not `arn:${Partition}:states:::lambda:invoke`, which it
    then refuses (its pattern only knows `arn:aws:`). Linting the definition as deployed in the `aws`
    partition keeps every other ASL check on; test_workflow checks the placeholder itself.
    """
    copy = json.loads(json.dumps(cfn))
    for resource in copy["Resources"].values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            props = resource["Properties"]
            props["DefinitionString"] = props["DefinitionString"].replace("${Partition}", partition)
            props["DefinitionSubstitutions"].pop("Partition")
    return copy


def test_cfn_lint_finds_no_errors_or_warnings(any_synth: Synth, tmp_path: Path) -> None:
    from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

    template = tmp_path / "template.json"
    template.write_text(json.dumps(_with_partition(any_synth.cfn, "aws")))
    # W3005 (DependsOn already implied by a Ref/GetAtt) fires on the DependsOn that CDK writes itself
    # (a function on its role, the notification custom resource on the queue policy): not ours to change.
    matches = lint_file(template, config=ManualArgs(ignore_checks=["W3005"], regions=["us-east-1"]))
    assert [f"{m.rule.id} {m.message} ({m.path})" for m in matches] == []


def test_a_bad_knob_fails_the_app_with_the_knob_name(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "i2v_infra.app"], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**_env(), "CDK_CONTEXT_JSON": json.dumps({"maxInFlight": "lots"}), "CDK_OUTDIR": str(tmp_path)})
    assert proc.returncode != 0
    assert "maxInFlight" in proc.stderr


def _env() -> dict[str, str]:
    import os

    return {**os.environ}  # conftest set JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION to Node's major version


def test_the_makefile_silences_the_node_end_of_life_warning(tmp_path: Path) -> None:
    """The value the Makefile exports reaches jsii, which then prints no end-of-life banner on synth."""
    import os
    import shutil

    if not shutil.which("make"):
        pytest.skip("make is not installed")
    exported = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), "--eval",
         "print-jsii-silence: ; @echo $$JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "print-jsii-silence"],
        capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k != "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"}
    proc = subprocess.run([sys.executable, "-c", "import aws_cdk"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env={**env, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": exported})
    assert proc.returncode == 0, proc.stderr
    assert "end-of-life" not in proc.stderr and "!!" not in proc.stderr, proc.stderr
