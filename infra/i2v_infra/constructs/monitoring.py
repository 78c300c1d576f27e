"""Alarms an operator acts on, the topic they go to, and one dashboard of the whole pipeline.

Custom metrics are the functions' Powertools metrics: namespace I2VPipeline, dimension `service=i2v`
(the only dimension; Powertools adds it from the service name). Provider account trouble (key or
billing) is counted from the submit and status logs by a metric filter into
I2VPipeline/ProviderAccountErrors (no dimension): the functions log it at ERROR with the provider's
`reason`, and ProviderErrors itself also counts retryable errors (rate limits, 5xx).
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from i2v import constants as c

# Provider reasons that no retry fixes and that need an operator (PROVIDER_API.md, "operators alerted").
OPERATOR_REASONS = ("INVALID_API_KEY", "MISSING_API_KEY", "API_NOT_ALLOWED", "BILLING_AUTH_FAILED",
                    "BILLING_BALANCE_NOT_ENOUGH")
ACCOUNT_ERRORS_METRIC = "ProviderAccountErrors"
# The functions log "provider account error..." at ERROR with the provider's reason (i2v.steps.submit,
# i2v.steps.check_status); either field identifies the event, and a log event counts once.
ACCOUNT_ERROR_PATTERN = "{ ($.level = \"ERROR\") && (($.message = \"provider account error*\") || " + \
    " || ".join(f'($.reason = "{reason}")' for reason in OPERATOR_REASONS) + ") }"
FAILURE_RATE_PERCENT = 20
# Below this many finished jobs in the hour the rate says little (one bad image would be 100%).
FAILURE_RATE_MIN_JOBS = 5
FIVE_MINUTES = cdk.Duration.minutes(5)
ONE_HOUR = cdk.Duration.hours(1)


def pipeline_metric(name: str, *, statistic: str = "Sum", period: cdk.Duration = FIVE_MINUTES,
                    label: str | None = None, **dimensions: str) -> cw.Metric:
    """A custom metric of the functions, as Powertools emits it (EMF, default `service` dimension)."""
    return cw.Metric(namespace=c.METRICS_NAMESPACE, metric_name=name, statistic=statistic, period=period,
                     dimensions_map={"service": c.SERVICE_NAME, **dimensions}, label=label)


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, queue: sqs.IQueue, dead_letters: sqs.IQueue,
                 state_machine: sfn.IStateMachine, functions: Mapping[str, lambda_.IFunction],
                 provider_log_groups: Mapping[str, logs.ILogGroup],
                 alarm_email: str | None, queue_age_alarm_seconds: int, dashboard_name: str,
                 removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        prefix = cdk.Stack.of(self).stack_name

        # CloudWatch cannot use the AWS managed SNS key, so the alarm topic has its own key. Both the
        # key and the topic must let CloudWatch in: enforce_ssl writes a topic policy, and that policy
        # replaces SNS's default one (which let the account's services publish). Only this account's
        # alarms named "<stack>-..." may publish (no confused deputy); the key cannot name the alarms
        # one by one (they refer to the topic, which refers to the key), so both use the name pattern.
        stack = cdk.Stack.of(self)
        alarms_of_this_stack = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": stack.format_arn(service="cloudwatch", resource="alarm",
                                                          resource_name=f"{prefix}-*",
                                                          arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)},
        }
        cloudwatch = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        key = kms.Key(self, "AlarmTopicKey", description="i2v alarm topic", enable_key_rotation=True,
                      removal_policy=removal_policy)
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish", principals=[cloudwatch],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy "*" means this key
            conditions=alarms_of_this_stack,
        ))
        self.alarm_topic = sns.Topic(self, "AlarmTopic", display_name="i2v alarms", master_key=key,
                                     enforce_ssl=True)
        self.alarm_topic.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish", principals=[cloudwatch], actions=["sns:Publish"],
            resources=[self.alarm_topic.topic_arn], conditions=alarms_of_this_stack))
        if alarm_email:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        action = cw_actions.SnsAction(self.alarm_topic)

        def alarm(construct_id: str, metric: cw.IMetric, threshold: float, description: str) -> cw.Alarm:
            """Fires when the metric goes above the threshold; tells the alarm topic on alarm and on OK."""
            created = cw.Alarm(self, construct_id, alarm_name=f"{prefix}-{construct_id}", metric=metric,
                               threshold=threshold, evaluation_periods=1,
                               comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                               datapoints_to_alarm=1, treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                               alarm_description=description)
            created.add_alarm_action(action)
            created.add_ok_action(action)
            return created

        succeeded = pipeline_metric(c.METRIC_SUCCEEDED, period=ONE_HOUR)
        failed = pipeline_metric(c.METRIC_FAILED, period=ONE_HOUR)
        failure_rate = cw.MathExpression(
            expression=(f"IF(FILL(s, 0) + FILL(f, 0) >= {FAILURE_RATE_MIN_JOBS}, "
                        "100 * FILL(f, 0) / (FILL(s, 0) + FILL(f, 0)), 0)"),
            using_metrics={"s": succeeded, "f": failed}, label="Failed videos (%)", period=ONE_HOUR)
        for name, log_group in provider_log_groups.items():
            logs.MetricFilter(self, f"ProviderAccountErrors{name.title()}", log_group=log_group,
                              filter_pattern=logs.FilterPattern.literal(ACCOUNT_ERROR_PATTERN),
                              metric_namespace=c.METRICS_NAMESPACE, metric_name=ACCOUNT_ERRORS_METRIC,
                              metric_value="1")
        account_errors = cw.Metric(namespace=c.METRICS_NAMESPACE, metric_name=ACCOUNT_ERRORS_METRIC,
                                   statistic="Sum", period=FIVE_MINUTES)

        self.alarms: dict[str, cw.Alarm] = {
            "dead_letters": alarm(
                "DeadLetterMessages",
                dead_letters.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(1),
                                                                           statistic="Maximum"),
                0, "Uploads the submit function failed on 5 times are parked in the dead-letter queue. "
                   "Read the submit logs for the cause, fix it, then redrive the DLQ to the queue."),
            "queue_age": alarm(
                "BacklogOldestJob",
                pipeline_metric(c.METRIC_BACKLOG_OLDEST, statistic="Maximum", period=FIVE_MINUTES),
                queue_age_alarm_seconds,
                f"A valid upload has waited more than {queue_age_alarm_seconds} s (from its upload) in the "
                "backlog: the backlog outruns the provider's rate / in-flight cap, or dispatching is stuck "
                "(auth, billing, throttling). Check BacklogJobs, ProviderErrors and the dispatch function's errors."),
            "executions_failed": alarm(
                "ExecutionsFailed", state_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum"), 0,
                "A workflow ended in NotificationNotSent or crashed: that job's user got no notification. "
                "Open the execution history in the Step Functions console."),
            "executions_timed_out": alarm(
                "ExecutionsTimedOut", state_machine.metric_timed_out(period=FIVE_MINUTES, statistic="Sum"), 0,
                "A workflow hit the definition's TimeoutSeconds: the job never got its notification. "
                "Check the deadlines and the status function."),
            "provider_errors": alarm(
                "ProviderAuthOrBilling", account_errors, 0,
                "The provider refused the API key or the account's billing (INVALID_API_KEY, "
                "MISSING_API_KEY, API_NOT_ALLOWED, BILLING_AUTH_FAILED, BILLING_BALANCE_NOT_ENOUGH). "
                "Every job fails until an operator fixes the key secret or tops up the balance."),
            "failure_rate": alarm(
                "VideoFailureRate", failure_rate, FAILURE_RATE_PERCENT,
                f"More than {FAILURE_RATE_PERCENT}% of the jobs that ended in the last hour failed (counted "
                f"from {FAILURE_RATE_MIN_JOBS} jobs an hour). "
                "Look at the error codes in the manifests / notifications (error.code)."),
        }

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=dashboard_name,
                                      default_interval=cdk.Duration.hours(6))
        def graph(title: str, left: list[cw.IMetric], right: list[cw.IMetric] | None = None) -> cw.GraphWidget:
            return _graph(title, left, right)

        def quarter(title: str, left: list[cw.IMetric]) -> cw.GraphWidget:
            return _graph(title, left, width=6)
        self.dashboard.add_widgets(
            cw.TextWidget(markdown="# i2v pipeline\nS3 uploads → queue → submit → workflow (status polls) "
                                   "→ store → SNS. Custom metrics: namespace `I2VPipeline`, dimension "
                                   "`service=i2v`.", width=24, height=2))
        self.dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()),
                                                        width=24, height=3))
        self.dashboard.add_widgets(
            graph("Queue depth", [
                queue.metric_approximate_number_of_messages_visible(label="waiting", statistic="Maximum"),
                queue.metric_approximate_number_of_messages_not_visible(label="in flight", statistic="Maximum"),
                queue.metric_approximate_number_of_messages_delayed(label="deferred", statistic="Maximum")]),
            graph("Dead-letter queue", [
                dead_letters.metric_approximate_number_of_messages_visible(label="messages", statistic="Maximum")]),
            graph("Backlog: waiting jobs and the oldest one's wait (s)", [
                pipeline_metric(c.METRIC_BACKLOG_JOBS, statistic="Maximum", label="waiting jobs")],
                right=[pipeline_metric(c.METRIC_BACKLOG_OLDEST, statistic="Maximum", label="oldest wait (s)")]),
        )
        self.dashboard.add_widgets(
            graph("Workflow executions", [
                state_machine.metric_started(label="started"),
                state_machine.metric_succeeded(label="succeeded"),
                state_machine.metric_failed(label="failed"),
                state_machine.metric_timed_out(label="timed out"),
                state_machine.metric_aborted(label="aborted")]),
            graph("Videos", [
                pipeline_metric(c.METRIC_SUCCEEDED, label="succeeded"),
                pipeline_metric(c.METRIC_FAILED, label="failed"),
                pipeline_metric(c.METRIC_SUBMITTED, label="submitted"),
                pipeline_metric(c.METRIC_QUEUED, label="parked in the backlog")],
                right=[failure_rate]),
            graph("Provider errors", [
                pipeline_metric(c.METRIC_PROVIDER_ERRORS, label="all provider errors (incl. retried)"),
                account_errors.with_(label="account errors (key, billing)")]),
        )
        self.dashboard.add_widgets(
            quarter("Generation time (s)", [
                pipeline_metric(c.METRIC_GENERATION_SECONDS, statistic="p50", label="p50"),
                pipeline_metric(c.METRIC_GENERATION_SECONDS, statistic="p90", label="p90"),
                pipeline_metric(c.METRIC_GENERATION_SECONDS, statistic="Maximum", label="max")]),
            quarter("Upload to notification (s)", [
                pipeline_metric(c.METRIC_UPLOAD_TO_NOTIFICATION, statistic="p50", label="p50"),
                pipeline_metric(c.METRIC_UPLOAD_TO_NOTIFICATION, statistic="p90", label="p90"),
                pipeline_metric(c.METRIC_UPLOAD_TO_NOTIFICATION, statistic="Maximum", label="max")]),
            quarter("Polls per job", [
                pipeline_metric(c.METRIC_POLLS, statistic="Average", label="average"),
                pipeline_metric(c.METRIC_POLLS, statistic="Maximum", label="max")]),
            quarter("Bytes stored", [pipeline_metric(c.METRIC_BYTES_STORED, label="bytes")]),
        )
        self.dashboard.add_widgets(
            quarter("Function errors", [fn.metric_errors(label=name) for name, fn in functions.items()]),
            quarter("Function throttles", [fn.metric_throttles(label=name) for name, fn in functions.items()]),
            quarter("Function duration p90 (ms)", [fn.metric_duration(label=name, statistic="p90")
                                                 for name, fn in functions.items()]),
            quarter("Skipped and duplicate events", [
                pipeline_metric(c.METRIC_SKIPPED, label="objects skipped"),
                pipeline_metric(c.METRIC_DUPLICATES, label="duplicate events")]),
        )


def _graph(title: str, left: list[cw.IMetric], right: list[cw.IMetric] | None = None, *,
           width: int = 8) -> cw.GraphWidget:
    return cw.GraphWidget(title=title, left=left, right=right or [], width=width, height=6)
