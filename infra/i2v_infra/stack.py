"""The stack: wires the constructs in the order of the diagram and grants each function its needs.

S3 upload -> queue -> intake -> backlog -> dispatch -> workflow (status) -> store -> S3 + SNS; tables,
the API key secret and monitoring beside them.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from i2v import constants as c
from i2v.contracts.prices import to_json
from i2v_infra.bundling import function_code
from i2v_infra.config import AppConfig
from i2v_infra.constructs.functions import PipelineFunctions
from i2v_infra.constructs.monitoring import Monitoring
from i2v_infra.constructs.notifications import Notifications
from i2v_infra.constructs.queue import JobQueue
from i2v_infra.constructs.secret import ApiKeySecret
from i2v_infra.constructs.storage import Storage
from i2v_infra.constructs.tables import Tables
from i2v_infra.constructs.workflow import Workflow
from i2v_infra.resources import (
    FUNCTIONS,
    OUTPUT_CONTROL_TABLE,
    OUTPUT_DLQ_URL,
    OUTPUT_JOBS_TABLE,
    OUTPUT_QUEUE_URL,
    STATE_MACHINE_SUFFIX,
    TABLES,
    Environment,
)

_R = logs.RetentionDays
RETENTION_BY_DAYS = {
    1: _R.ONE_DAY, 3: _R.THREE_DAYS, 5: _R.FIVE_DAYS, 7: _R.ONE_WEEK, 14: _R.TWO_WEEKS, 30: _R.ONE_MONTH,
    60: _R.TWO_MONTHS, 90: _R.THREE_MONTHS, 120: _R.FOUR_MONTHS, 150: _R.FIVE_MONTHS, 180: _R.SIX_MONTHS,
    365: _R.ONE_YEAR, 400: _R.THIRTEEN_MONTHS, 545: _R.EIGHTEEN_MONTHS, 731: _R.TWO_YEARS,
    1096: _R.THREE_YEARS, 1827: _R.FIVE_YEARS, 2192: _R.SIX_YEARS, 2557: _R.SEVEN_YEARS,
    2922: _R.EIGHT_YEARS, 3288: _R.NINE_YEARS, 3653: _R.TEN_YEARS,
}


class PipelineStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig,
                 code: lambda_.Code | None = None, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        removal = cdk.RemovalPolicy.DESTROY if config.destroy_on_delete else cdk.RemovalPolicy.RETAIN
        retention = RETENTION_BY_DAYS[config.log_retention_days]

        queue = JobQueue(self, "Queue")
        storage = Storage(self, "Storage", bucket_name=config.bucket_name, uploads_prefix=config.uploads_prefix,
                          outputs_prefix=config.outputs_prefix, removal_policy=removal,
                          access_log_days=max(config.log_retention_days, 90))
        storage.send_uploads_to(queue.queue)
        tables = Tables(self, "Tables", removal_policy=removal)
        api_key = ApiKeySecret(self, "ApiKey", existing_name=config.api_key_secret_name,
                               new_name=f"{self.stack_name}/highway-api-key")
        notifications = Notifications(self, "Notifications", email=config.notification_email)

        # The workflow needs the status and store functions' ARNs, and every function's settings
        # need the workflow's ARN: the state machine gets a fixed name, so its ARN is known up front.
        state_machine_name = f"{self.stack_name}{STATE_MACHINE_SUFFIX}"
        state_machine_arn = self.format_arn(service="states", resource="stateMachine",
                                            resource_name=state_machine_name,
                                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        functions = PipelineFunctions(self, "Functions", code=code or function_code(),
                                      environment=self._environment(config, storage, queue, tables, api_key,
                                                                    notifications, state_machine_arn),
                                      memory_mb=config.lambda_memory_mb, log_retention=retention,
                                      removal_policy=removal)
        for spec in FUNCTIONS.values():
            if spec.trigger:
                functions.by_name[spec.name].add_event_source(queue.event_source(spec.trigger))
            if spec.schedule_seconds:
                events.Rule(self, f"{spec.construct_id}Schedule",
                            description=f"i2v: wakes the {spec.name} function as a safety net",
                            schedule=events.Schedule.rate(cdk.Duration.seconds(spec.schedule_seconds)),
                            targets=[targets.LambdaFunction(functions.by_name[spec.name], retry_attempts=0)])
        workflow = Workflow(self, "Workflow", state_machine_name=state_machine_name,
                            status_function=functions.status, store_function=functions.store,
                            log_retention=retention, removal_policy=removal)
        self._grant(functions, storage, queue, tables, api_key, notifications, workflow,
                    self.event_bus_arn(config.event_bus_name))

        monitoring = Monitoring(self, "Monitoring", uploads=queue.queue, dead_letters=queue.dead_letters,
                                wake=queue.wake, state_machine=workflow.state_machine, functions=functions.all,
                                tables=tables.by_name,
                                provider_log_groups={name: functions.log_groups[name]
                                                     for name in (c.FN_DISPATCH, c.FN_STATUS)},
                                alarm_email=config.alarm_email,
                                queue_age_alarm_seconds=config.queue_age_alarm_seconds,
                                budgets={"daily": config.budget_daily_usd, "monthly": config.budget_monthly_usd},
                                dashboard_name=f"{self.stack_name}-{cdk.Aws.REGION}", removal_policy=removal)

        outputs = {
            "BucketName": (storage.bucket.bucket_name, "Bucket for uploads and outputs"),
            "UploadsPrefix": (config.uploads_prefix, "Drop images or job .json files under this prefix"),
            "OutputsPrefix": (config.outputs_prefix, "Videos and manifests appear under this prefix"),
            "TopicArn": (notifications.topic.topic_arn, "Job notifications (i2v.notification/v1)"),
            "EventBusName": (config.event_bus_name, "EventBridge bus the notifications also go to (source i2v)"),
            "AlarmTopicArn": (monitoring.alarm_topic.topic_arn, "Operator alarms"),
            "StateMachineArn": (workflow.state_machine.state_machine_arn, "Per-job workflow"),
            OUTPUT_QUEUE_URL: (queue.queue.queue_url, "Upload events waiting for the intake function"),
            OUTPUT_DLQ_URL: (queue.dead_letters.queue_url, "Upload events that failed intake 5 times"),
            OUTPUT_JOBS_TABLE: (tables.jobs.table_name, "One record per job; waiting jobs form the backlog"),
            OUTPUT_CONTROL_TABLE: (tables.control.table_name, "Leases, claims, content records and spend so far"),
            "ApiKeySecretName": (api_key.secret_name,
                                 "Secrets Manager secret holding the HighwayAPI key (its name only)"),
            "DashboardName": (monitoring.dashboard.dashboard_name, "CloudWatch dashboard"),
        }
        for output_id, (value, description) in outputs.items():
            cdk.CfnOutput(self, output_id, value=value, description=description)

    def _environment(self, config: AppConfig, storage: Storage, queue: JobQueue, tables: Tables,
                     api_key: ApiKeySecret, notifications: Notifications, state_machine_arn: str) -> Environment:
        """Every value a function may read; each function is given only its own (i2v.constants.FUNCTION_ENV)."""
        return Environment({
            c.ENV_BUCKET: storage.bucket.bucket_name,
            c.ENV_UPLOADS_PREFIX: config.uploads_prefix,
            c.ENV_OUTPUTS_PREFIX: config.outputs_prefix,
            c.ENV_TOPIC_ARN: notifications.topic.topic_arn,
            c.ENV_STATE_MACHINE_ARN: state_machine_arn,
            c.ENV_WAKE_QUEUE_URL: queue.wake.queue_url,
            c.ENV_UPLOADS_QUEUE_URL: queue.queue.queue_url,
            **{spec.env: tables.by_name[name].table_name for name, spec in TABLES.items()},
            c.ENV_API_KEY_SECRET: api_key.reference,  # where the key is, never the key
            c.ENV_PROVIDER_URL: config.provider_url,
            c.ENV_DEFAULTS: json.dumps(dict(config.defaults), separators=(",", ":")),
            c.ENV_MAX_IN_FLIGHT: str(config.max_in_flight),
            c.ENV_SUBMITS_PER_MINUTE: str(config.submits_per_minute),
            c.ENV_DEADLINE_STANDARD: str(config.deadline_standard_seconds),
            c.ENV_DEADLINE_PROFESSIONAL: str(config.deadline_professional_seconds),
            c.ENV_URL_POLICY: c.URL_POLICY_PUBLIC_HTTPS,
            c.ENV_MAX_VIDEO_BYTES: str(config.max_video_bytes),
            c.ENV_TRIGGER: config.trigger,
            c.ENV_PRICES: json.dumps(to_json(config.prices), separators=(",", ":")),
            **({c.ENV_BUDGET_DAILY: str(config.budget_daily_usd)} if config.budget_daily_usd is not None else {}),
            **({c.ENV_BUDGET_MONTHLY: str(config.budget_monthly_usd)} if config.budget_monthly_usd is not None
               else {}),
            c.ENV_BUDGET_ACTION: config.budget_action,
            c.ENV_IMAGE_GRACE: str(config.image_grace_seconds),
            c.ENV_SUBMIT_MAX_ATTEMPTS: str(c.DEFAULT_SUBMIT_MAX_ATTEMPTS),
            c.ENV_IMAGE_URL_TTL: str(c.DEFAULT_IMAGE_URL_TTL),
            c.ENV_DOWNLOAD_URL_TTL: str(c.DEFAULT_DOWNLOAD_URL_TTL),
            c.ENV_JOB_RETENTION_DAYS: str(config.job_retention_days),
            c.ENV_EVENT_BUS: config.event_bus_name,
            c.ENV_POWERTOOLS_SERVICE: c.SERVICE_NAME,
            c.ENV_POWERTOOLS_NAMESPACE: c.METRICS_NAMESPACE,
        })

    def event_bus_arn(self, name: str) -> str:
        """arn:${Partition}:events:${Region}:${Account}:event-bus/<name> (``default``: the account's default bus;
        the stack uses the bus, it does not create it)."""
        return self.format_arn(service="events", resource="event-bus", resource_name=name)

    @staticmethod
    def _grant(functions: PipelineFunctions, storage: Storage, queue: JobQueue, tables: Tables,
               api_key: ApiKeySecret, notifications: Notifications, workflow: Workflow, event_bus_arn: str) -> None:
        """Each function gets exactly the calls its step makes (tests/infra/test_least_privilege.py lists
        them per adapter). TransactWriteItems has no IAM action of its own: each Update inside it needs
        dynamodb:UpdateItem on its table."""
        jobs, control, idempotency = tables.jobs, tables.control, tables.idempotency
        # intake: read the upload, create the job record, park it (jobs + the backlog counter, one
        # transaction), start the failure report of a bad one, wake the dispatcher; claims of the images
        # job files name (get, put, add a pending image); a batch file's ledger (put) and rows (requeued).
        intake = functions.intake
        storage.grant_read_uploads(intake)
        tables.grant(intake, jobs, "GetItem", "UpdateItem")
        tables.grant(intake, control, "GetItem", "PutItem", "UpdateItem")
        workflow.grant_start(intake)
        queue.grant_wake(intake)
        queue.grant_requeue_rows(intake)
        # dispatch: read the backlog's index, claim and release jobs, take capacity (leases), submit once
        # (Powertools idempotency records, the API key), presign the validated image version, start the
        # workflow or see that it runs, wake itself later.
        dispatch = functions.dispatch
        storage.grant_read_uploads(dispatch)
        tables.grant(dispatch, jobs, "Query", index=c.BACKLOG_INDEX)
        tables.grant(dispatch, jobs, "UpdateItem")
        tables.grant(dispatch, control, "BatchGetItem", "GetItem", "UpdateItem", "DeleteItem")
        storage.grant_check_outputs(dispatch)  # pay once per content: the earlier video still exists
        tables.grant(dispatch, idempotency, "GetItem", "PutItem", "UpdateItem", "DeleteItem")
        api_key.grant_read(dispatch)
        workflow.grant_start(dispatch)
        workflow.grant_describe_executions(dispatch)
        queue.grant_wake(dispatch)
        # status: ask the provider, record progress.
        api_key.grant_read(functions.status)
        tables.grant(functions.status, jobs, "UpdateItem")
        # store: write the video and manifest, record the end and claim the one notification, give back
        # the slot (read the leases, release its own), wake the dispatcher, notify.
        store = functions.store
        storage.grant_write_outputs(store)
        tables.grant(store, jobs, "UpdateItem")
        tables.grant(store, control, "BatchGetItem", "UpdateItem", "DeleteItem")
        queue.grant_wake(store)
        notifications.grant_publish(store)
        # ... and put the same document on the EventBridge bus (used, not created, by the stack).
        store.add_to_role_policy(iam.PolicyStatement(actions=["events:PutEvents"], resources=[event_bus_arn]))
