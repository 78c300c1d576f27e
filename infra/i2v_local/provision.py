"""Create the pipeline's resources in moto from the one description the CDK stack also reads
(i2v_infra.resources): tables with their keys, index and time-to-live, queues with their redrive,
the topic, the functions and the state machine running the same ASL file."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from i2v import constants as c
from i2v_infra.resources import (
    FUNCTIONS,
    QUEUES,
    STATE_MACHINE_LOCAL_NAME,
    TABLES,
    TOPIC_LOCAL_NAME,
    IndexSpec,
    TableSpec,
)
from i2v_infra.workflow_definition import read_definition, substitute
from i2v_local.lambda_runner import InProcessLambdas

INBOX = "i2v-notifications-inbox"  # stands in for the users' subscriptions: the command line reads it
EVENTS_INBOX = "i2v-events-inbox"  # stands in for the users' EventBridge rules: a rule on source i2v sends here
EVENTS_RULE = "i2v-events-to-inbox"


@dataclass
class Provisioned:
    """Names and ARNs of what was created, as the functions' environment and the tests need them."""

    bucket: str
    queue_urls: dict[str, str] = field(default_factory=dict)  # by QUEUES key
    queue_arns: dict[str, str] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)  # by TABLES key
    function_arns: dict[str, str] = field(default_factory=dict)  # by function name
    topic_arn: str = ""
    inbox_url: str = ""
    state_machine_arn: str = ""
    event_bus: str = c.DEFAULT_EVENT_BUS
    events_inbox_url: str = ""


def create_tables(ddb: Any) -> dict[str, str]:
    """Every table of the description; returns their names by key."""
    for spec in TABLES.values():
        create_table(ddb, spec)
    return {name: spec.local_name for name, spec in TABLES.items()}


def create_table(ddb: Any, spec: TableSpec) -> None:
    attributes = {spec.partition_key}
    for index in spec.indexes:
        attributes |= {index.partition_key, index.sort_key}
    kwargs: dict[str, Any] = {}
    if spec.indexes:
        kwargs["GlobalSecondaryIndexes"] = [_index(i) for i in spec.indexes]
    ddb.create_table(TableName=spec.local_name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
                     KeySchema=[{"AttributeName": spec.partition_key, "KeyType": "HASH"}], **kwargs)
    if spec.ttl_attribute:
        ddb.update_time_to_live(TableName=spec.local_name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": spec.ttl_attribute})


def _index(index: IndexSpec) -> dict[str, Any]:
    return {"IndexName": index.name,
            "KeySchema": [{"AttributeName": index.partition_key, "KeyType": "HASH"},
                          {"AttributeName": index.sort_key, "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projected)}}


def create_events_inbox(events: Any, sqs: Any, event_bus: str) -> str:
    """The bus (unless it is the default one, which every account has), a rule matching the pipeline's
    events and a queue it sends them to, as a user's rule would; the queue's URL."""
    if event_bus != c.DEFAULT_EVENT_BUS:
        events.create_event_bus(Name=event_bus)
    url = sqs.create_queue(QueueName=EVENTS_INBOX)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=EVENTS_RULE, EventBusName=event_bus, EventPattern=json.dumps({"source": [c.EVENT_SOURCE]}),
                    Description="i2v: every event of the pipeline, to the local events inbox")
    events.put_targets(Rule=EVENTS_RULE, EventBusName=event_bus, Targets=[{"Id": "inbox", "Arn": arn}])
    return str(url)


def provision(clients: Any, lambdas: InProcessLambdas, *, bucket: str, uploads_prefix: str,
              visibility_timeout: int | None = None, function_timeouts: dict[str, float] | None = None,
              versioned: bool = True, event_bus: str = c.DEFAULT_EVENT_BUS) -> Provisioned:
    """``clients(service)`` makes a boto3 client of the local cloud."""
    s3, sqs, sns, ddb, sfn, lam = (clients(n) for n in ("s3", "sqs", "sns", "dynamodb", "stepfunctions", "lambda"))
    made = Provisioned(bucket=bucket)
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    by_construct = {spec.construct_id: name for name, spec in QUEUES.items()}
    for name, spec in QUEUES.items():
        attributes = {"VisibilityTimeout": str(visibility_timeout or spec.visibility_timeout),
                      "MessageRetentionPeriod": str(spec.retention_days * 86400)}
        if spec.dead_letter:
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": made.queue_arns[by_construct[spec.dead_letter]],
                                                      "maxReceiveCount": spec.max_receive_count})
        made.queue_urls[name] = sqs.create_queue(QueueName=spec.local_name, Attributes=attributes)["QueueUrl"]
        made.queue_arns[name] = sqs.get_queue_attributes(QueueUrl=made.queue_urls[name],
                                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": made.queue_arns["uploads"], "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": uploads_prefix}]}}}]})
    made.topic_arn = sns.create_topic(Name=TOPIC_LOCAL_NAME)["TopicArn"]
    made.inbox_url = sqs.create_queue(QueueName=INBOX)["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=made.inbox_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=made.topic_arn, Protocol="sqs", Endpoint=inbox_arn)
    made.event_bus, made.events_inbox_url = event_bus, create_events_inbox(clients("events"), sqs, event_bus)
    made.tables = create_tables(ddb)
    role = clients("iam").create_role(RoleName="i2v-local", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("handler.py", "# runs in-process, see i2v_local.lambda_runner\n")
    for name, function in FUNCTIONS.items():
        timeout = float((function_timeouts or {}).get(name, function.timeout_seconds))
        made.function_arns[name] = lam.create_function(
            FunctionName=function.local_name, Runtime="python3.13", Role=role, Handler=function.handler,
            Code={"ZipFile": zipped.getvalue()}, Timeout=max(1, int(timeout)), MemorySize=function.memory_mb,
            Architectures=["arm64"])["FunctionArn"]
        lambdas.register(function.local_name, function.handler, timeout)
        lambdas.own(function.local_name)
    definition = substitute(read_definition(), {"StatusFunctionArn": made.function_arns[c.FN_STATUS],
                                                "StoreFunctionArn": made.function_arns[c.FN_STORE],
                                                "Partition": "aws"})
    made.state_machine_arn = sfn.create_state_machine(name=STATE_MACHINE_LOCAL_NAME, definition=definition,
                                                      roleArn=role)["stateMachineArn"]
    return made
