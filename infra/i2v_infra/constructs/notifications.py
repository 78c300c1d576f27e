"""The topic every job's one notification (i2v.notification/v1) is published to, success or failure."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class Notifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, email: str | None) -> None:
        super().__init__(scope, construct_id)
        # The AWS managed key: only the store function (through SNS) encrypts, so no key policy to
        # keep, and the function's role needs no kms:* permission.
        aws_managed_key = kms.Alias.from_alias_name(self, "AwsManagedKey", "alias/aws/sns")
        self.topic = sns.Topic(self, "Topic", display_name="i2v job notifications",
                               master_key=aws_managed_key, enforce_ssl=True)
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        self.topic.grant_publish(grantee)
