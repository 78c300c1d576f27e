"""Monitoring: one alarm per failure kind, all to the encrypted alarm topic, and the dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from infra_synth import Synth

from i2v import constants as c
from i2v_infra.constructs.monitoring import ACCOUNT_ERROR_PATTERN, ACCOUNT_ERRORS_METRIC

REPO_ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.infra


def _alarm(synth: Synth, name: str) -> dict[str, Any]:
    _, alarm = synth.one("AWS::CloudWatch::Alarm", f"Monitoring{name}")
    return alarm["Properties"]


def _metric_names(props: dict[str, Any]) -> set[str]:
    if "MetricName" in props:
        return {props["MetricName"]}
    return {q["MetricStat"]["Metric"]["MetricName"] for q in props["Metrics"] if "MetricStat" in q}


def test_six_alarms_all_notify_the_alarm_topic(default_synth: Synth) -> None:
    topic, _ = default_synth.one("AWS::SNS::Topic", "AlarmTopic")
    alarms = default_synth.resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 6
    for logical, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}], logical
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic}], logical
        assert len(alarm["Properties"]["AlarmDescription"]) > 40, logical


def test_dead_letter_alarm(default_synth: Synth) -> None:
    props = _alarm(default_synth, "DeadLetterMessages")
    dlq, _ = default_synth.one("AWS::SQS::Queue", "DeadLetters")
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)


def test_backlog_oldest_job_alarm(default_synth: Synth) -> None:
    """The oldest valid job waiting in the backlog (from its upload), as the dispatcher reports it."""
    props = _alarm(default_synth, "BacklogOldestJob")
    assert (props["Namespace"], props["MetricName"]) == (c.METRICS_NAMESPACE, c.METRIC_BACKLOG_OLDEST)
    assert props["Dimensions"] == [{"Name": "service", "Value": c.SERVICE_NAME}]
    assert (props["Statistic"], props["Threshold"]) == ("Maximum", 3600)


@pytest.mark.parametrize(("name", "metric"), [("ExecutionsFailed", "ExecutionsFailed"),
                                              ("ExecutionsTimedOut", "ExecutionsTimedOut")])
def test_execution_alarms(default_synth: Synth, name: str, metric: str) -> None:
    props = _alarm(default_synth, name)
    machine, _ = default_synth.one("AWS::StepFunctions::StateMachine")
    assert props["Namespace"] == "AWS/States" and props["MetricName"] == metric
    assert props["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine}}]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)


def test_provider_auth_and_billing_alarm_counts_account_errors_from_the_logs(default_synth: Synth) -> None:
    props = _alarm(default_synth, "ProviderAuthOrBilling")
    assert (props["Namespace"], props["MetricName"]) == (c.METRICS_NAMESPACE, ACCOUNT_ERRORS_METRIC)
    assert (props["ComparisonOperator"], props["Threshold"], props["Statistic"]) == ("GreaterThanThreshold", 0, "Sum")
    filters = default_synth.resources("AWS::Logs::MetricFilter")
    groups = {f["Properties"]["LogGroupName"]["Ref"] for f in filters.values()}
    assert groups == {default_synth.logical("Functions", f"{n}Logs") for n in ("Dispatch", "Status")}
    for metric_filter in filters.values():
        assert metric_filter["Properties"]["FilterPattern"] == ACCOUNT_ERROR_PATTERN
        [transformation] = metric_filter["Properties"]["MetricTransformations"]
        assert transformation == {"MetricNamespace": c.METRICS_NAMESPACE, "MetricName": ACCOUNT_ERRORS_METRIC,
                                  "MetricValue": "1"}


def test_account_error_pattern_matches_what_the_functions_log() -> None:
    """The functions log provider account errors at ERROR as "provider account error..." with `reason`."""
    for reason in ("INVALID_API_KEY", "MISSING_API_KEY", "API_NOT_ALLOWED", "BILLING_AUTH_FAILED",
                   "BILLING_BALANCE_NOT_ENOUGH"):
        assert f'$.reason = "{reason}"' in ACCOUNT_ERROR_PATTERN
    assert '$.level = "ERROR"' in ACCOUNT_ERROR_PATTERN
    for step in ("dispatch", "check_status"):
        text = (REPO_ROOT / "functions" / "i2v" / "steps" / f"{step}.py").read_text()
        assert re.search(r'logger\.error\(\s*"provider account error', text), step
        assert '"reason": exc.reason' in text, step


def test_failure_rate_alarm(default_synth: Synth) -> None:
    props = _alarm(default_synth, "VideoFailureRate")
    assert _metric_names(props) == {c.METRIC_SUCCEEDED, c.METRIC_FAILED}
    expression = next(q["Expression"] for q in props["Metrics"] if "Expression" in q)
    assert "100 * FILL(f, 0) / (FILL(s, 0) + FILL(f, 0))" in expression
    assert props["Threshold"] == 20


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(default_synth: Synth) -> None:
    key, key_resource = default_synth.one("AWS::KMS::Key")
    _, topic = default_synth.one("AWS::SNS::Topic", "AlarmTopic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    assert key_resource["Properties"]["EnableKeyRotation"] is True
    statements = key_resource["Properties"]["KeyPolicy"]["Statement"]
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in statements)


def test_dashboard_shows_queue_executions_and_custom_metrics(default_synth: Synth) -> None:
    _, dashboard = default_synth.one("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in ("ApproximateNumberOfMessagesVisible", c.METRIC_BACKLOG_JOBS, c.METRIC_BACKLOG_OLDEST,
                   "ExecutionsStarted",
                   "ExecutionsFailed", c.METRIC_SUCCEEDED, c.METRIC_FAILED, c.METRIC_GENERATION_SECONDS,
                   c.METRIC_UPLOAD_TO_NOTIFICATION, c.METRIC_POLLS, c.METRIC_PROVIDER_ERRORS,
                   c.METRIC_BYTES_STORED, ACCOUNT_ERRORS_METRIC):
        assert metric in body, metric
    assert c.METRICS_NAMESPACE in body
