"""Alarms an operator acts on and one dashboard of the whole pipeline, built with cdk-monitoring-constructs.

The facade (`MonitoringFacade`) gives each function, table, queue and the workflow its standard
widgets and alarms (function errors and throttles, table throttling, the upload queue's age and its
dead-letter queue, failed and timed-out executions). The pipeline's own alarms, which no facade
method knows, are custom metrics on the same facade: the backlog's oldest job, submissions whose
outcome is unknown, provider account trouble and the video failure rate. Every alarm is named
"<stack>-...", tells the alarm topic on ALARM and on OK, and says in its description what to do
(docs/operations.md has the same list).

Custom metrics are the functions' Powertools metrics: namespace I2VPipeline, dimension `service=i2v`.
Provider account trouble (key or billing) is counted from the dispatch and status logs by a metric
filter into I2VPipeline/ProviderAccountErrors (no dimension): the functions log it at ERROR with the
provider's `reason`, while ProviderErrors also counts retryable errors (rate limits, 5xx).
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
import cdk_monitoring_constructs as mc
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from i2v import constants as c
from i2v_infra.constructs.alarm_topic import AlarmTopic

# Provider reasons that no retry fixes and that need an operator.
OPERATOR_REASONS = ("INVALID_API_KEY", "MISSING_API_KEY", "API_NOT_ALLOWED", "BILLING_AUTH_FAILED",
                    "BILLING_BALANCE_NOT_ENOUGH")
ACCOUNT_ERRORS_METRIC = "ProviderAccountErrors"
# The functions log "provider account error..." at ERROR with the provider's reason (i2v.steps.dispatch,
# i2v.steps.check_status); either field identifies the event, and a log event counts once.
ACCOUNT_ERROR_PATTERN = "{ ($.level = \"ERROR\") && (($.message = \"provider account error*\") || " + \
    " || ".join(f'($.reason = "{reason}")' for reason in OPERATOR_REASONS) + ") }"
BUDGET_ALARM_SHARE = 0.8  # warn at 80% of a spend budget
FAILURE_RATE_PERCENT = 20
# Below this many finished jobs in the hour the rate says little (one bad image would be 100%).
FAILURE_RATE_MIN_JOBS = 5
# The intake function drains a burst of thousands of uploads in minutes; older means it is stuck.
UPLOAD_AGE_ALARM_SECONDS = 15 * 60
FIVE_MINUTES = cdk.Duration.minutes(5)
ONE_HOUR = cdk.Duration.hours(1)

FUNCTION_FAILURES = {  # what a failure of each function means for jobs, and where to look
    c.FN_INTAKE: "The upload event is delivered again; after 5 failed deliveries it moves to the dead-letter "
                 "queue (DeadLetterMessages).",
    c.FN_DISPATCH: "Jobs stay in the backlog and the one-minute schedule tries again; nothing is lost, but "
                   "jobs wait (BacklogOldestJob).",
    c.FN_STATUS: "The workflow retries the poll; if it keeps failing the job ends FAILED with a notification.",
    c.FN_STORE: "The workflow retries; if storing keeps failing the job takes the failure path, and if even "
                "the failure notification fails the execution fails (ExecutionsFailed).",
}


def pipeline_metric(name: str, *, statistic: str = "Sum", period: cdk.Duration = FIVE_MINUTES,
                    label: str | None = None) -> cw.Metric:
    """A custom metric of the functions, as Powertools emits it (EMF, default `service` dimension)."""
    return cw.Metric(namespace=c.METRICS_NAMESPACE, metric_name=name, statistic=statistic, period=period,
                     dimensions_map={"service": c.SERVICE_NAME}, label=label)


def _above(threshold: float, name: str, description: str) -> mc.CustomThreshold:
    """An alarm when the metric goes above ``threshold``; no data (nothing happened) is fine."""
    return mc.CustomThreshold(threshold=threshold, comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                              alarm_name_override=name, alarm_description_override=description,
                              treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING)


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, uploads: sqs.IQueue, dead_letters: sqs.IQueue,
                 wake: sqs.IQueue, state_machine: sfn.IStateMachine, functions: Mapping[str, lambda_.IFunction],
                 tables: Mapping[str, dynamodb.ITable], provider_log_groups: Mapping[str, logs.ILogGroup],
                 alarm_email: str | None, queue_age_alarm_seconds: int, dashboard_name: str,
                 removal_policy: cdk.RemovalPolicy, budgets: Mapping[str, float | None] | None = None) -> None:
        super().__init__(scope, construct_id)
        self.prefix = cdk.Stack.of(self).stack_name
        topic = AlarmTopic(self, "AlarmTopic", alarm_name_prefix=self.prefix, email=alarm_email,
                           removal_policy=removal_policy)
        self.alarm_topic = topic.topic
        dashboards = mc.DefaultDashboardFactory(
            self, "Dashboards", dashboard_name_prefix=dashboard_name, create_dashboard=True,
            create_summary_dashboard=False, create_alarm_dashboard=False,
            detail_dashboard_range=cdk.Duration.hours(6))
        self.facade = mc.MonitoringFacade(
            self, "Facade", dashboard_factory=dashboards,
            alarm_factory_defaults=mc.AlarmFactoryDefaults(
                alarm_name_prefix=self.prefix, actions_enabled=True, datapoints_to_alarm=1,
                action=mc.SnsAlarmActionStrategy(on_alarm_topic=self.alarm_topic, on_ok_topic=self.alarm_topic)))
        assert dashboards.dashboard is not None  # create_dashboard=True
        self.dashboard: cw.Dashboard = dashboards.dashboard
        self.facade.add_large_header("i2v pipeline")
        self.facade.add_widget(cw.TextWidget(
            markdown="S3 uploads → queue → **intake** → backlog → **dispatch** → workflow (**status** polls) → "
                     "**store** → SNS. Custom metrics: namespace `I2VPipeline`, dimension `service=i2v`. "
                     "What each alarm means and what to do: docs/operations.md.", width=24, height=2))
        self._pipeline(queue_age_alarm_seconds, provider_log_groups)
        self._spend(budgets or {})
        self._queues(uploads, dead_letters, wake)
        self._workflow(state_machine)
        self._functions(functions)
        self._tables(tables)

    def _name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    # --- the pipeline's own metrics: no facade method knows them ------------------------------------
    def _pipeline(self, queue_age_alarm_seconds: int, provider_log_groups: Mapping[str, logs.ILogGroup]) -> None:
        for name, log_group in provider_log_groups.items():
            logs.MetricFilter(self, f"ProviderAccountErrors{name.title()}", log_group=log_group,
                              filter_pattern=logs.FilterPattern.literal(ACCOUNT_ERROR_PATTERN),
                              metric_namespace=c.METRICS_NAMESPACE, metric_name=ACCOUNT_ERRORS_METRIC,
                              metric_value="1")
        account_errors = cw.Metric(namespace=c.METRICS_NAMESPACE, metric_name=ACCOUNT_ERRORS_METRIC,
                                   statistic="Sum", period=FIVE_MINUTES, label="account errors (key, billing)")
        failure_rate = cw.MathExpression(
            expression=(f"IF(FILL(s, 0) + FILL(f, 0) >= {FAILURE_RATE_MIN_JOBS}, "
                        "100 * FILL(f, 0) / (FILL(s, 0) + FILL(f, 0)), 0)"),
            using_metrics={"s": pipeline_metric(c.METRIC_SUCCEEDED, period=ONE_HOUR),
                           "f": pipeline_metric(c.METRIC_FAILED, period=ONE_HOUR)},
            label="failed videos (%)", period=ONE_HOUR)

        def alarmed(metric: cw.Metric | cw.MathExpression, name: str, threshold: float,
                    description: str) -> mc.CustomMetricWithAlarm:
            return mc.CustomMetricWithAlarm(metric=metric, alarm_friendly_name=name,
                                            add_alarm={name: _above(threshold, self._name(name), description)})

        self.facade.monitor_custom(alarm_friendly_name="Pipeline", human_readable_name="Backlog and jobs", metric_groups=[
            mc.CustomMetricGroup(title="Backlog: waiting jobs", metrics=[
                pipeline_metric(c.METRIC_BACKLOG_JOBS, statistic="Maximum", label="waiting jobs")]),
            mc.CustomMetricGroup(title="Backlog: the oldest job's wait (s)", metrics=[alarmed(
                pipeline_metric(c.METRIC_BACKLOG_OLDEST, statistic="Maximum", label="oldest wait (s)"),
                "BacklogOldestJob", queue_age_alarm_seconds,
                f"A valid upload has waited more than {queue_age_alarm_seconds} s (from its upload) in the backlog: "
                "uploads outrun the provider's rate / in-flight cap, or dispatching is stuck (key, billing, "
                "throttling). Check BacklogJobs, ProviderAuthOrBilling and the dispatch function's errors.")]),
            mc.CustomMetricGroup(title="Submissions", metrics=[
                pipeline_metric(c.METRIC_QUEUED, label="parked in the backlog"),
                pipeline_metric(c.METRIC_SUBMITTED, label="submitted to the provider"),
                alarmed(pipeline_metric(c.METRIC_SUBMIT_OUTCOME_UNKNOWN, label="outcome unknown"),
                        "SubmitOutcomeUnknown", 0,
                        "A submission to the provider ended without an answer (timeout, crash) after it may have "
                        "created a paid task; the job failed with SUBMIT_OUTCOME_UNKNOWN rather than pay twice. Find "
                        "the job (`i2v jobs list --status FAILED`), check the provider's console for the task, and retry "
                        "it with `i2v jobs retry` only if no task was created.")]),
            mc.CustomMetricGroup(title="Videos", metrics=[
                pipeline_metric(c.METRIC_SUCCEEDED, label="succeeded"),
                pipeline_metric(c.METRIC_FAILED, label="failed"),
                alarmed(failure_rate, "VideoFailureRate", FAILURE_RATE_PERCENT,
                        f"More than {FAILURE_RATE_PERCENT}% of the jobs that ended in the last hour failed (counted "
                        f"from {FAILURE_RATE_MIN_JOBS} jobs an hour). Look at the error codes in the manifests and "
                        "notifications (error.code) and at VideosFailedByCode.")]),
            mc.CustomMetricGroup(title="Provider errors", metrics=[
                pipeline_metric(c.METRIC_PROVIDER_ERRORS, label="all provider errors (incl. retried)"),
                alarmed(account_errors, "ProviderAuthOrBilling", 0,
                        "The provider refused the API key or the account's billing (INVALID_API_KEY, "
                        "MISSING_API_KEY, API_NOT_ALLOWED, BILLING_AUTH_FAILED, BILLING_BALANCE_NOT_ENOUGH). Every "
                        "job fails until an operator stores the right key in the secret (put-secret-value) or tops "
                        "up the balance.")]),
            mc.CustomMetricGroup(title="Generation time (s)", metrics=[
                pipeline_metric(c.METRIC_GENERATION_SECONDS, statistic=s, label=s) for s in ("p50", "p90", "Maximum")]),
            mc.CustomMetricGroup(title="Upload to notification (s)", metrics=[
                pipeline_metric(c.METRIC_UPLOAD_TO_NOTIFICATION, statistic=s, label=s)
                for s in ("p50", "p90", "Maximum")]),
            mc.CustomMetricGroup(title="Polls per job, bytes stored", metrics=[
                pipeline_metric(c.METRIC_POLLS, statistic="Average", label="polls per job (average)"),
                pipeline_metric(c.METRIC_BYTES_STORED, label="bytes stored")]),
            mc.CustomMetricGroup(title="Skipped and duplicate events", metrics=[
                pipeline_metric(c.METRIC_SKIPPED, label="objects skipped"),
                pipeline_metric(c.METRIC_DUPLICATES, label="duplicate events")]),
        ])

    def _spend(self, budgets: Mapping[str, float | None]) -> None:
        """Provider spend today and this month (the dispatcher reports it every minute); an alarm at
        BUDGET_ALARM_SHARE of each budget the stack sets."""
        metrics: list[cw.Metric | mc.CustomMetricWithAlarm] = []
        for period, metric_name in (("daily", c.METRIC_SPEND_TODAY_USD), ("monthly", c.METRIC_SPEND_MONTH_USD)):
            metric = pipeline_metric(metric_name, statistic="Maximum", label=f"spend, {period} ($)")
            limit = budgets.get(period)
            if limit is None:
                metrics.append(metric)
                continue
            name = f"Budget{period.title()}"
            threshold = round(limit * BUDGET_ALARM_SHARE, 2)
            metrics.append(mc.CustomMetricWithAlarm(metric=metric, alarm_friendly_name=name, add_alarm={
                name: _above(threshold, self._name(name),
                             f"Provider spend has passed {BUDGET_ALARM_SHARE:.0%} of the {period} budget "
                             f"(${limit:.2f}): at the budget, jobs wait for the next period (or fail with "
                             "BUDGET_EXCEEDED if budgetAction=fail). Raise the budget or expect the wait.")}))
        self.facade.monitor_custom(alarm_friendly_name="Spend", human_readable_name="Provider spend", metric_groups=[
            mc.CustomMetricGroup(title="Provider spend ($)", metrics=metrics),
            mc.CustomMetricGroup(title="Reused videos (paid once per content)", metrics=[
                pipeline_metric(c.METRIC_REUSED, label="videos reused"),
                pipeline_metric(c.METRIC_REUSE_SAVED_USD, label="saved ($)"),
                pipeline_metric(c.METRIC_BUDGET_WAITS, label="jobs held by a budget")])])

    # --- standard resources: the facade's widgets and alarms ----------------------------------------
    def _queues(self, uploads: sqs.IQueue, dead_letters: sqs.IQueue, wake: sqs.IQueue) -> None:
        self.facade.monitor_sqs_queue_with_dlq(
            queue=uploads, dead_letter_queue=dead_letters, alarm_friendly_name="Uploads",
            human_readable_name="Upload events for the intake function",
            add_queue_max_message_age_alarm={"Age": mc.MaxMessageAgeThreshold(
                max_age_in_seconds=UPLOAD_AGE_ALARM_SECONDS, alarm_name_override=self._name("UploadsWaiting"),
                alarm_description_override=(
                    f"An upload event has waited more than {UPLOAD_AGE_ALARM_SECONDS // 60} minutes for the intake "
                    "function: intake is failing, throttled or far behind. Check the intake function's errors "
                    "and throttles."))},
            add_dead_letter_queue_max_size_alarm={"DeadLetters": mc.MaxMessageCountThreshold(
                max_message_count=0, alarm_name_override=self._name("DeadLetterMessages"),
                alarm_description_override=(
                    "Upload events the intake function failed on 5 times are parked in the dead-letter queue "
                    "(their jobs show DEAD_LETTER in i2v jobs). Read the intake logs for the cause, fix it, then "
                    "`i2v redrive` moves them back to the queue."))})
        self.facade.monitor_sqs_queue(queue=wake, alarm_friendly_name="Wake",
                                      human_readable_name="Wake-ups of the dispatch function")

    def _workflow(self, state_machine: sfn.IStateMachine) -> None:
        self.facade.monitor_step_function(
            state_machine=state_machine, alarm_friendly_name="Workflow", human_readable_name="Per-job workflow",
            add_failed_execution_count_alarm={"Failed": mc.ErrorCountThreshold(
                max_error_count=0, alarm_name_override=self._name("ExecutionsFailed"),
                alarm_description_override=(
                    "A workflow ended in NotificationNotSent or crashed: that job's user got no notification. "
                    "Open the execution history in the Step Functions console."))},
            add_timed_out_execution_count_alarm={"TimedOut": mc.ErrorCountThreshold(
                max_error_count=0, alarm_name_override=self._name("ExecutionsTimedOut"),
                alarm_description_override=(
                    "A workflow hit the definition's TimeoutSeconds: the job never got its notification. Check "
                    "the deadlines and the status function."))})

    def _functions(self, functions: Mapping[str, lambda_.IFunction]) -> None:
        for name, function in functions.items():
            title = name.title()
            self.facade.monitor_lambda_function(
                lambda_function=function, alarm_friendly_name=title, human_readable_name=f"{name} function",
                add_fault_count_alarm={"Errors": mc.ErrorCountThreshold(
                    max_error_count=0, alarm_name_override=self._name(f"{title}Errors"),
                    alarm_description_override=(
                        f"The {name} function failed (an exception, or it ran out of time). "
                        f"{FUNCTION_FAILURES[name]} Read its log group for the error."))},
                add_throttles_count_alarm={"Throttles": mc.ErrorCountThreshold(
                    max_error_count=0, alarm_name_override=self._name(f"{title}Throttles"),
                    alarm_description_override=(
                        f"Lambda throttled the {name} function: the account's concurrency is used up (other "
                        "functions in the account, or a low regional limit). Work is retried, but slowed; raise "
                        "the concurrency quota or reserve concurrency for the pipeline."))})

    def _tables(self, tables: Mapping[str, dynamodb.ITable]) -> None:
        for name, table in tables.items():
            title = name.title()
            throttled = (f"DynamoDB throttled requests to the {name} table (on-demand tables throttle a sudden "
                         "burst beyond twice the previous peak, or a single hot key). The functions retry; if it "
                         "persists, look for a hot key (the control table's counters) or pre-warm the table.")
            self.facade.monitor_dynamo_table(
                table=table, billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST, alarm_friendly_name=f"{title}Table",
                human_readable_name=f"{name} table",
                add_read_throttled_events_count_alarm={"Read": mc.ThrottledEventsThreshold(
                    max_throttled_events_threshold=0, alarm_name_override=self._name(f"{title}TableReadThrottled"),
                    alarm_description_override=throttled)},
                add_write_throttled_events_count_alarm={"Write": mc.ThrottledEventsThreshold(
                    max_throttled_events_threshold=0, alarm_name_override=self._name(f"{title}TableWriteThrottled"),
                    alarm_description_override=throttled)})
