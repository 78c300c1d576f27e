"""Monitoring: the facade's alarms per function, table and queue, the pipeline's own alarms, all to the
encrypted alarm topic, and one dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from infra_synth import Synth

from i2v import constants as c
from i2v_infra.constructs.monitoring import ACCOUNT_ERROR_PATTERN, ACCOUNT_ERRORS_METRIC
from i2v_infra.resources import FUNCTIONS, TABLES

REPO_ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.infra

# The alarms with no facade equivalent, by name: what docs/operations.md tells operators to do about.
PIPELINE_ALARMS = ("DeadLetterMessages", "BacklogOldestJob", "ExecutionsFailed", "ExecutionsTimedOut",
                   "ProviderAuthOrBilling", "VideoFailureRate", "SubmitOutcomeUnknown")


def _alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    """Alarm properties by alarm name."""
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()}


def _alarm(synth: Synth, name: str) -> dict[str, Any]:
    return _alarms(synth)[f"{synth.stack.stack_name}-{name}"]


def _metric_names(props: dict[str, Any]) -> set[str]:
    if "MetricName" in props:
        return {props["MetricName"]}
    return {q["MetricStat"]["Metric"]["MetricName"] for q in props["Metrics"] if "MetricStat" in q}


def _single_metric(props: dict[str, Any]) -> dict[str, Any]:
    """Namespace, name, dimensions and statistic of a one-metric alarm (plain or as a metric query);
    all None for an alarm on an expression."""
    if "MetricName" in props:
        return {"namespace": props["Namespace"], "name": props["MetricName"],
                "dimensions": props.get("Dimensions", []), "stat": props.get("Statistic") or props.get("ExtendedStatistic")}
    [query] = [q for q in props["Metrics"] if q.get("ReturnData", True)]
    if "MetricStat" not in query:
        return {"namespace": None, "name": None, "dimensions": [], "stat": None}
    stat = query["MetricStat"]
    return {"namespace": stat["Metric"]["Namespace"], "name": stat["Metric"]["MetricName"],
            "dimensions": stat["Metric"].get("Dimensions", []), "stat": stat["Stat"]}


def test_monitoring_is_built_with_cdk_monitoring_constructs(default_synth: Synth) -> None:
    from cdk_monitoring_constructs import MonitoringFacade

    facades = [n for n in default_synth.stack.node.find_all() if isinstance(n, MonitoringFacade)]
    assert len(facades) == 1


def test_every_alarm_tells_the_alarm_topic_and_explains_itself(any_synth: Synth) -> None:
    topic = any_synth.logical("Monitoring", "AlarmTopic", "Topic")
    alarms = any_synth.resources("AWS::CloudWatch::Alarm")
    assert len(alarms) >= len(PIPELINE_ALARMS) + 2 * len(FUNCTIONS) + 2 * len(TABLES)
    for logical, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic}], logical
        assert props["OKActions"] == [{"Ref": topic}], logical
        assert props["AlarmName"].startswith(f"{any_synth.stack.stack_name}-"), logical  # the topic's grant
        assert len(props["AlarmDescription"]) > 40, logical


def test_the_pipeline_alarms_are_kept(default_synth: Synth) -> None:
    names = set(_alarms(default_synth))
    for name in PIPELINE_ALARMS:
        assert f"I2VPipeline-{name}" in names, name


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_alarms_on_errors_and_throttles(default_synth: Synth, name: str) -> None:
    function = default_synth.function_id(name)
    found: dict[str, dict[str, Any]] = {}
    for props in _alarms(default_synth).values():
        metric = _single_metric(props)
        if metric["namespace"] == "AWS/Lambda" and {"Name": "FunctionName", "Value": {"Ref": function}} in metric["dimensions"]:
            found[metric["name"]] = props
    assert {"Errors", "Throttles"} <= set(found), name
    for metric_name in ("Errors", "Throttles"):
        alarm = found[metric_name]
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0), metric_name
        assert _single_metric(alarm)["stat"] == "Sum"


@pytest.mark.parametrize("table", TABLES)
def test_every_table_alarms_on_throttled_requests(default_synth: Synth, table: str) -> None:
    logical = default_synth.logical("Tables", TABLES[table].construct_id)
    throttled = set()
    for props in _alarms(default_synth).values():
        text = json.dumps(props)
        if f'"Ref": "{logical}"' in text:
            throttled |= {n for n in ("ReadThrottleEvents", "WriteThrottleEvents") if n in text}
    assert throttled == {"ReadThrottleEvents", "WriteThrottleEvents"}, table


def test_dead_letter_alarm(default_synth: Synth) -> None:
    props = _alarm(default_synth, "DeadLetterMessages")
    metric = _single_metric(props)
    assert metric["name"] == "ApproximateNumberOfMessagesVisible"
    assert metric["dimensions"] == [{"Name": "QueueName",
                                     "Value": {"Fn::GetAtt": [default_synth.logical("Queue", "DeadLetters"), "QueueName"]}}]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)


def test_uploads_waiting_too_long_for_the_intake_function_alarm(default_synth: Synth) -> None:
    queue = default_synth.logical("Queue", "Uploads")
    ages = [p for p in _alarms(default_synth).values() if _single_metric(p)["name"] == "ApproximateAgeOfOldestMessage"
            and {"Fn::GetAtt": [queue, "QueueName"]} in [d["Value"] for d in _single_metric(p)["dimensions"]]]
    assert len(ages) == 1
    assert ages[0]["Threshold"] > 0


def test_backlog_oldest_job_alarm(default_synth: Synth) -> None:
    """The oldest valid job waiting in the backlog (from its upload), as the dispatcher reports it."""
    props = _alarm(default_synth, "BacklogOldestJob")
    metric = _single_metric(props)
    assert (metric["namespace"], metric["name"]) == (c.METRICS_NAMESPACE, c.METRIC_BACKLOG_OLDEST)
    assert metric["dimensions"] == [{"Name": "service", "Value": c.SERVICE_NAME}]
    assert (metric["stat"], props["Threshold"]) == ("Maximum", 3600)


def test_submit_outcome_unknown_alarm(default_synth: Synth) -> None:
    """A submission whose outcome is unknown may be paid and never delivered: someone must look."""
    props = _alarm(default_synth, "SubmitOutcomeUnknown")
    metric = _single_metric(props)
    assert (metric["namespace"], metric["name"]) == (c.METRICS_NAMESPACE, c.METRIC_SUBMIT_OUTCOME_UNKNOWN)
    assert metric["dimensions"] == [{"Name": "service", "Value": c.SERVICE_NAME}]
    assert (metric["stat"], props["ComparisonOperator"], props["Threshold"]) == ("Sum", "GreaterThanThreshold", 0)
    assert props["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize(("name", "metric"), [("ExecutionsFailed", "ExecutionsFailed"),
                                              ("ExecutionsTimedOut", "ExecutionsTimedOut")])
def test_execution_alarms(default_synth: Synth, name: str, metric: str) -> None:
    props = _alarm(default_synth, name)
    found = _single_metric(props)
    assert (found["namespace"], found["name"]) == ("AWS/States", metric)
    assert found["dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": default_synth.logical("Workflow", "StateMachine")}}]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)


def test_provider_auth_and_billing_alarm_counts_account_errors_from_the_logs(default_synth: Synth) -> None:
    props = _alarm(default_synth, "ProviderAuthOrBilling")
    metric = _single_metric(props)
    assert (metric["namespace"], metric["name"], metric["stat"]) == (c.METRICS_NAMESPACE, ACCOUNT_ERRORS_METRIC, "Sum")
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
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


def test_alarm_topic_is_encrypted_with_its_own_rotating_key(default_synth: Synth) -> None:
    key = default_synth.logical("Monitoring", "AlarmTopic", "Key")
    topic = default_synth.resource("Monitoring", "AlarmTopic", "Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    assert default_synth.cfn["Resources"][key]["Properties"]["EnableKeyRotation"] is True


def test_alarm_email_subscription(existing_synth: Synth) -> None:
    existing_synth.template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "email", "Endpoint": "ops@example.com",
        "TopicArn": {"Ref": existing_synth.logical("Monitoring", "AlarmTopic", "Topic")}})


def test_one_dashboard_shows_the_backlog_the_functions_and_the_custom_metrics(default_synth: Synth) -> None:
    [(_, dashboard)] = default_synth.resources("AWS::CloudWatch::Dashboard").items()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (c.METRIC_BACKLOG_JOBS, c.METRIC_BACKLOG_OLDEST, c.METRIC_SUBMIT_OUTCOME_UNKNOWN,
                   "ApproximateNumberOfMessagesVisible", "ExecutionsStarted", "ExecutionsFailed",
                   c.METRIC_SUCCEEDED, c.METRIC_FAILED, c.METRIC_GENERATION_SECONDS, c.METRIC_UPLOAD_TO_NOTIFICATION,
                   c.METRIC_POLLS, c.METRIC_PROVIDER_ERRORS, c.METRIC_BYTES_STORED, ACCOUNT_ERRORS_METRIC,
                   "Errors", "Throttles", "Duration", "ReadThrottleEvents", "WriteThrottleEvents"):
        assert metric in body, metric
    assert c.METRICS_NAMESPACE in body
    [(logical, dashboard)] = default_synth.resources("AWS::CloudWatch::Dashboard").items()
    assert default_synth.cfn["Outputs"]["DashboardName"]["Value"] == {"Ref": logical}


# --- spend budgets (issue 13, item 2) ---------------------------------------------------------------------

@pytest.mark.parametrize(("name", "metric", "threshold"), [("BudgetDaily", c.METRIC_SPEND_TODAY_USD, 16.0),
                                                           ("BudgetMonthly", c.METRIC_SPEND_MONTH_USD, 320.4)])
def test_an_alarm_at_80_percent_of_each_budget(budget_synth: Synth, name: str, metric: str, threshold: float) -> None:
    props = _alarm(budget_synth, name)
    found = _single_metric(props)
    assert (found["namespace"], found["name"], found["stat"]) == (c.METRICS_NAMESPACE, metric, "Maximum")
    assert found["dimensions"] == [{"Name": "service", "Value": c.SERVICE_NAME}]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", threshold)
    assert props["TreatMissingData"] == "notBreaching"
    assert "80%" in props["AlarmDescription"] and "BUDGET_EXCEEDED" in props["AlarmDescription"]
    topic = budget_synth.logical("Monitoring", "AlarmTopic", "Topic")
    assert props["AlarmActions"] == [{"Ref": topic}]


def test_no_budget_no_budget_alarm(default_synth: Synth) -> None:
    assert not [n for n in _alarms(default_synth) if "Budget" in n]


def test_the_dashboard_shows_spend_and_reuse(default_synth: Synth, budget_synth: Synth) -> None:
    for synth in (default_synth, budget_synth):
        [(_, dashboard)] = synth.resources("AWS::CloudWatch::Dashboard").items()
        body = json.dumps(dashboard["Properties"]["DashboardBody"])
        for metric in (c.METRIC_SPEND_TODAY_USD, c.METRIC_SPEND_MONTH_USD, c.METRIC_REUSED, c.METRIC_REUSE_SAVED_USD,
                       c.METRIC_BUDGET_WAITS):
            assert metric in body, metric
