"""Everything that sends something somewhere is allowed to, by the target's policies (issue 11, finding 1).

moto does not evaluate resource policies or key policies, and CloudFormation deploys a topic nobody may
publish to without a word. So the synthesized template is walked from every sender to its target:

- every alarm action (alarm, OK, insufficient data) -> the topic's policy and its key's policy,
- every S3 bucket notification -> the queue's policy (and key),
- every Lambda event source mapping -> the function role's permissions on the queue, the queue's
  policy (a Deny there wins) and its key,
- every EventBridge rule target -> the function's resource policy (Lambda permission),
- every SNS subscription -> the subscribed queue's policy or function's permission, and for the topic
  every role allowed to publish to it -> the topic's policy and its key.

A publisher added later is walked the same way. The walk fails naming the sender, the target and the
statement that is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from infra_policy import ACCOUNT, Caller, Request, Template
from infra_synth import Synth

pytestmark = pytest.mark.infra

SNS_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")  # what SNS asks of the key for a publisher
SQS_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
POLL_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


def _topic_problems(t: Template, topic: str, caller: Caller, context: dict[str, str]) -> list[str]:
    """Why ``caller`` may not publish to ``topic`` (empty: it may)."""
    problems = []
    request = Request(caller, "sns:Publish", t.arn({"Ref": topic}), dict(context))
    statements = t.resource_policies("AWS::SNS::TopicPolicy", "Topics", topic)
    if not statements:  # SNS's default policy: the owning account's principals and services acting for it
        statements = [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "SNS:Publish", "Resource": "*",
                       "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}}]
        request.context.setdefault("AWS:SourceOwner", ACCOUNT)
    decision = t.decide(statements, request)
    if decision == "deny":
        problems.append(f"the policy of topic {topic} denies sns:Publish to {caller}")
    elif decision == "none":
        if caller.role is None or t.decide(t.role_statements(caller.role), request, identity=True) != "allow":
            problems.append(f"nothing allows {caller} to publish to topic {topic}")
    key = t.resources[topic]["Properties"].get("KmsMasterKeyId")
    if key is not None and (why := t.key_allows(key, caller, SNS_KEY_ACTIONS, request.context)):
        problems.append(f"topic {topic}: {why}")
    return problems


def _queue_problems(t: Template, queue: str, caller: Caller, actions: tuple[str, ...],
                    context: dict[str, str]) -> list[str]:
    problems = []
    statements = t.resource_policies("AWS::SQS::QueuePolicy", "Queues", queue)
    for action in actions:
        request = Request(caller, action, t.arn({"Fn::GetAtt": [queue, "Arn"]}), dict(context))
        decision = t.decide(statements, request)
        if decision == "deny":
            problems.append(f"the policy of queue {queue} denies {action} to {caller}")
        elif decision == "none":
            if caller.role is None or t.decide(t.role_statements(caller.role), request, identity=True) != "allow":
                problems.append(f"nothing allows {caller} {action} on queue {queue}")
    key = t.resources[queue]["Properties"].get("KmsMasterKeyId")
    if key is not None and (why := t.key_allows(key, caller, SQS_KEY_ACTIONS, context)):
        problems.append(f"queue {queue}: {why}")
    return problems


def _function_problems(t: Template, function: str, caller: Caller, context: dict[str, str]) -> list[str]:
    request = Request(caller, "lambda:InvokeFunction", t.arn({"Fn::GetAtt": [function, "Arn"]}), dict(context))
    if t.decide(t.lambda_permission_statements(function), request) != "allow":
        return [f"no Lambda permission lets {caller} invoke {function}"]
    return []


def _target(value: Any) -> str:
    """The logical id a Ref / GetAtt points at."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    raise AssertionError(f"a target outside the template cannot be checked here: {value!r}")


def deliveries(t: Template) -> Iterator[tuple[str, list[str]]]:
    """(sender -> target, problems) for every sender in the template."""
    for alarm_id, alarm in t.of_type("AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        context = {"aws:SourceArn": t.arn({"Fn::GetAtt": [alarm_id, "Arn"]})}
        for kind in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            for action in props.get(kind, []):
                topic = _target(action)
                assert t.resources[topic]["Type"] == "AWS::SNS::Topic", f"{alarm_id}: teach this test {topic}"
                yield (f"alarm {alarm_id} ({kind}) -> {topic}",
                       _topic_problems(t, topic, Caller(service="cloudwatch.amazonaws.com"), context))

    for notifications in t.of_type("Custom::S3BucketNotifications").values():
        props = notifications["Properties"]
        bucket = props["BucketName"]
        bucket_arn = (t.arn({"Fn::GetAtt": [_target(bucket), "Arn"]}) if isinstance(bucket, dict)
                      else f"arn:aws:s3:::{bucket}")
        configuration = props["NotificationConfiguration"]
        assert set(configuration) <= {"QueueConfigurations"}, "teach this test topic/Lambda notifications"
        for entry in configuration.get("QueueConfigurations", []):
            queue = _target(entry["QueueArn"])
            yield (f"bucket {bucket_arn} -> {queue}",
                   _queue_problems(t, queue, Caller(service="s3.amazonaws.com"), ("sqs:SendMessage",),
                                   {"aws:SourceArn": bucket_arn}))

    for mapping_id, mapping in t.of_type("AWS::Lambda::EventSourceMapping").items():
        props = mapping["Properties"]
        queue = _target(props["EventSourceArn"])
        function = _target(props["FunctionName"])
        role = _target(t.resources[function]["Properties"]["Role"])
        yield (f"event source {mapping_id}: {function} polls {queue}",
               _queue_problems(t, queue, Caller(role=role), POLL_ACTIONS, {}))

    for rule_id, rule in t.of_type("AWS::Events::Rule").items():
        for target in rule["Properties"].get("Targets", []):
            function = _target(target["Arn"])
            assert t.resources[function]["Type"] == "AWS::Lambda::Function", f"{rule_id}: teach this test {function}"
            yield (f"rule {rule_id} -> {function}",
                   _function_problems(t, function, Caller(service="events.amazonaws.com"),
                                      {"aws:SourceArn": t.arn({"Fn::GetAtt": [rule_id, "Arn"]})}))

    for subscription_id, subscription in t.of_type("AWS::SNS::Subscription").items():
        props = subscription["Properties"]
        topic = _target(props["TopicArn"])
        context = {"aws:SourceArn": t.arn({"Ref": topic})}
        if props["Protocol"] == "sqs":
            queue = _target(props["Endpoint"])
            yield (f"subscription {subscription_id}: {topic} -> {queue}",
                   _queue_problems(t, queue, Caller(service="sns.amazonaws.com"), ("sqs:SendMessage",), context))
        elif props["Protocol"] == "lambda":
            function = _target(props["Endpoint"])
            yield (f"subscription {subscription_id}: {topic} -> {function}",
                   _function_problems(t, function, Caller(service="sns.amazonaws.com"), context))
        else:
            assert props["Protocol"] in ("email", "email-json", "sms", "http", "https"), props["Protocol"]

    for role_id in t.of_type("AWS::IAM::Role"):
        for statement in t.role_statements(role_id):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement["Effect"] != "Allow" or "sns:Publish" not in actions:
                continue
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in resources:
                topic = _target(resource)
                yield (f"role {role_id} -> {topic}", _topic_problems(t, topic, Caller(role=role_id), {}))


def test_every_sender_is_allowed_by_its_targets_policies(any_synth: Synth) -> None:
    walked = list(deliveries(Template(any_synth.cfn)))
    problems = [f"{edge}: {why}" for edge, whys in walked for why in whys]
    assert problems == []
    kinds = {edge.split(" ")[0] for edge, _ in walked}
    assert {"alarm", "bucket", "event", "rule", "role"} <= kinds  # the walk reached every kind of sender


def test_the_walk_fails_on_a_topic_that_allows_no_publisher(default_synth: Synth) -> None:
    """The finding as it was: an alarm topic whose policy holds only the deny-non-TLS statement."""
    import copy

    cfn = copy.deepcopy(default_synth.cfn)
    topic = default_synth.logical("Monitoring", "AlarmTopic", "Topic")
    for policy in cfn["Resources"].values():
        if policy["Type"] == "AWS::SNS::TopicPolicy" and {"Ref": topic} in policy["Properties"]["Topics"]:
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            statements[:] = [s for s in statements if s["Effect"] == "Deny"]
    problems = [why for _, whys in deliveries(Template(cfn)) for why in whys]
    assert problems and all("publish to topic" in p for p in problems)


def test_the_walk_fails_on_a_key_cloudwatch_may_not_use(default_synth: Synth) -> None:
    import copy

    cfn = copy.deepcopy(default_synth.cfn)
    key = default_synth.logical("Monitoring", "AlarmTopic", "Key")
    statements = cfn["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]
    statements[:] = [s for s in statements if "cloudwatch" not in str(s.get("Principal"))]
    problems = [why for _, whys in deliveries(Template(cfn)) for why in whys]
    assert problems and all("key policy" in p for p in problems)


def test_an_alarm_of_another_account_or_name_may_not_publish(default_synth: Synth) -> None:
    """The CloudWatch statements are scoped: confused-deputy requests are refused."""
    t = Template(default_synth.cfn)
    topic = default_synth.logical("Monitoring", "AlarmTopic", "Topic")
    cloudwatch = Caller(service="cloudwatch.amazonaws.com")
    foreign = {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:999999999999:alarm:{default_synth.stack.stack_name}-X",
               "aws:SourceAccount": "999999999999"}
    other_name = {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:SomeoneElses"}
    for context in (foreign, other_name):
        assert _topic_problems(t, topic, cloudwatch, context), context
