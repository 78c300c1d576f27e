"""The topic operator alarms go to: encrypted with a key of its own, publishable by this stack's alarms.

CloudWatch cannot use the AWS managed SNS key, so the topic has a customer managed key. Both the key
and the topic must let `cloudwatch.amazonaws.com` in: `enforce_ssl` writes a topic policy, and that
policy replaces SNS's default one (which let the account's services publish); without an explicit
grant every alarm notification is refused ("no resource-based policy allows the SNS:Publish action").
Only this account's alarms whose names start with "<stack name>-" may publish (no confused deputy).
The key cannot list the alarms one by one (each alarm refers to the topic, which refers to the key),
so both grants use that name pattern, and every alarm of the stack is named with it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

CLOUDWATCH = "cloudwatch.amazonaws.com"


class AlarmTopic(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, alarm_name_prefix: str, email: str | None,
                 removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.alarm_name_prefix = alarm_name_prefix
        alarms_of_this_stack = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": stack.format_arn(service="cloudwatch", resource="alarm",
                                                          resource_name=f"{alarm_name_prefix}-*",
                                                          arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)},
        }
        self.key = kms.Key(self, "Key", description="i2v alarm topic", enable_key_rotation=True,
                           removal_policy=removal_policy)
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish", principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy "*" means this key
            conditions=alarms_of_this_stack))
        self.topic = sns.Topic(self, "Topic", display_name="i2v alarms", master_key=self.key, enforce_ssl=True)
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish", principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["sns:Publish"], resources=[self.topic.topic_arn], conditions=alarms_of_this_stack))
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
