"""docs/operations.md stays true to the template: every alarm is explained, and the fixed monthly charges
are what the default deploy creates, at the prices the document states."""

from __future__ import annotations

import re
from typing import Any

import pytest
from infra_synth import REPO_ROOT, Synth

from i2v_infra.resources import FUNCTIONS, TABLES
from support import documents_users_lack

pytestmark = pytest.mark.infra

DOC = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
# us-east-1 list prices, as the document states them (per month).
PRICES = {"key": 1.00, "alarm_metric": 0.10, "dashboard": 3.00, "secret": 0.40}


def _alarm_metrics(props: dict[str, Any]) -> int:
    if "MetricName" in props:
        return 1
    return sum(1 for query in props["Metrics"] if "MetricStat" in query)


def test_every_alarm_is_explained(default_synth: Synth) -> None:
    prefix = f"{default_synth.stack.stack_name}-"
    patterns = {f"{s.construct_id}{kind}": f"<Function>{kind}" for s in FUNCTIONS.values()
                for kind in ("Errors", "Throttles")}
    patterns |= {f"{s.construct_id}Table{kind}Throttled": f"<Table>Table{kind}Throttled" for s in TABLES.values()
                 for kind in ("Read", "Write")}
    for alarm in default_synth.resources("AWS::CloudWatch::Alarm").values():
        name = alarm["Properties"]["AlarmName"].removeprefix(prefix)
        assert f"`{patterns.get(name, name)}`" in DOC, name


def test_fixed_monthly_charges_match_the_template(default_synth: Synth) -> None:
    keys = len(default_synth.resources("AWS::KMS::Key"))
    alarms = default_synth.resources("AWS::CloudWatch::Alarm")
    metrics = sum(_alarm_metrics(a["Properties"]) for a in alarms.values())
    dashboards = len(default_synth.resources("AWS::CloudWatch::Dashboard"))
    secrets = len(default_synth.resources("AWS::SecretsManager::Secret"))
    total = (keys * PRICES["key"] + metrics * PRICES["alarm_metric"] + dashboards * PRICES["dashboard"]
             + secrets * PRICES["secret"])
    assert f"| {keys} | $1.00 per key | ${keys * PRICES['key']:.2f} |" in DOC
    assert f"| {len(alarms)} alarms, {metrics} alarm metrics" in DOC
    assert f"$0.10 per alarm metric | ${metrics * PRICES['alarm_metric']:.2f} |" in DOC
    assert f"| {dashboards} | $3.00 per dashboard | ${dashboards * PRICES['dashboard']:.2f} |" in DOC
    assert f"| {secrets} | $0.40 per secret | ${secrets * PRICES['secret']:.2f} |" in DOC
    assert f"**${total:.2f}**" in DOC
    assert f"creates no secret (${total - secrets * PRICES['secret']:.2f})" in DOC
    assert re.search(r"as of [A-Z][a-z]+ 20\d\d", DOC), "the prices' date"


def test_the_deploy_example_subscribes_the_alarm_email() -> None:
    assert "-c alarmEmail=" in DOC and "put-secret-value" in DOC


def test_the_document_points_only_to_files_users_have() -> None:
    assert documents_users_lack(DOC, REPO_ROOT / "docs") == []
    for link in re.findall(r"\]\(([^)#]+\.md)\)", DOC):
        assert (REPO_ROOT / "docs" / link).exists(), link
