"""The bucket users drop images into and get videos back from: created here or an existing one.

Uploads under the uploads prefix raise OBJECT_CREATED events into the job queue; the functions get
object permissions scoped to one prefix each (intake and dispatch read uploads, store writes
outputs).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from i2v_infra.nag import acknowledge, acknowledge_grant, wildcard_resource


class Storage(Construct):
    """``bucket`` is new (hardened, versioned, access-logged) when ``bucket_name`` is None."""

    def __init__(self, scope: Construct, construct_id: str, *, bucket_name: str | None, uploads_prefix: str,
                 outputs_prefix: str, removal_policy: cdk.RemovalPolicy, access_log_days: int) -> None:
        super().__init__(scope, construct_id)
        self.uploads_prefix = uploads_prefix
        self.outputs_prefix = outputs_prefix
        self.created = bucket_name is None
        destroy = removal_policy == cdk.RemovalPolicy.DESTROY
        if bucket_name is not None:
            self.bucket: s3.IBucket = s3.Bucket.from_bucket_name(self, "Bucket", bucket_name)
            return

        self.access_logs = s3.Bucket(
            self, "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only encryption S3 server access logging accepts
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs",
                                              expiration=cdk.Duration.days(access_log_days))],
            removal_policy=removal_policy,
            auto_delete_objects=destroy,
        )
        # cdk-nag recognises it as the data bucket's access-log target, so S1 does not apply to it.

        self.bucket = s3.Bucket(
            self, "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[
                # The store function streams videos with multipart uploads; an interrupted one costs money.
                s3.LifecycleRule(id="abort-incomplete-uploads",
                                 abort_incomplete_multipart_upload_after=cdk.Duration.days(7)),
                s3.LifecycleRule(id="expire-old-versions",
                                 noncurrent_version_expiration=cdk.Duration.days(30)),
            ],
            removal_policy=removal_policy,
            auto_delete_objects=destroy,
        )

    def send_uploads_to(self, queue: sqs.IQueue) -> None:
        """OBJECT_CREATED under the uploads prefix -> ``queue`` (works for an imported bucket too).

        Only the prefix is filtered here: S3 suffix filters are case-sensitive, and the intake
        function decides which keys are jobs (images of any case, job files, not `_defaults.json`).
        """
        self.bucket.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.SqsDestination(queue),
                                           s3.NotificationKeyFilter(prefix=self.uploads_prefix))
        # CDK puts the notification configuration with a singleton custom-resource Lambda of its own.
        stack = cdk.Stack.of(self)
        for handler in stack.node.children:
            if handler.node.id.startswith("BucketNotificationsHandler"):
                acknowledge(handler.node.find_child("Role"), "IAM4",
                            "CDK's own BucketNotificationsHandler (runs only at deploy time to put the "
                            "bucket's notification configuration) uses AWSLambdaBasicExecutionRole for "
                            "its logs; CDK offers no way to replace it.",
                            finding="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                                    "AWSLambdaBasicExecutionRole")

    def grant_read_uploads(self, grantee: iam.IGrantable) -> None:
        """Get objects (any version) under the uploads prefix; list the bucket under that prefix only.

        s3:ListBucket is what makes S3 answer 404 rather than 403 for a key that does not exist: the
        intake function probes for `_defaults.json` in each folder up to the uploads prefix with
        HeadObject and treats 404 as "none here" (403 would fail the job). For that answer S3 evaluates
        the caller's ListBucket permission with the missing object's key as `s3:prefix`, so a
        ListBucket allowed only for `s3:prefix` like "<uploads prefix>*" keeps the 404 for every key the
        functions probe (all under the uploads prefix) and lists nothing else. Ceph's S3 gateway adopted
        the same rule to match AWS (ceph/ceph#68577: "add the requested object name to the iam
        environment as s3:prefix to match aws behavior"), and kopia/kopia#3072 observed it on AWS.
        moto does not evaluate it: after a first deploy, an upload without any `_defaults.json` must
        reach the backlog (see docs/operations.md). Should it ever answer 403, drop the condition.
        """
        principal = grantee.grant_principal
        objects = self.bucket.arn_for_objects(f"{self.uploads_prefix}*")
        principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[objects]))
        principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{self.uploads_prefix}*"]}}))
        acknowledge_grant(principal, "Object keys are only known at run time: the function may read uploaded "
                                     f"images and job files anywhere under the '{self.uploads_prefix}' prefix and "
                                     "nowhere else in the bucket.", finding=wildcard_resource(self, objects))

    def grant_check_outputs(self, grantee: iam.IGrantable) -> None:
        """Head an output and one version of it (does an earlier video of the same content still exist, and was
        its name not deleted since?): s3:GetObject for the name, s3:GetObjectVersion for the version, and
        s3:ListBucket under the outputs prefix, without which S3 answers a deleted name or a removed version
        with 403 instead of 404 (see grant_read_uploads): "gone, make it again" must not read as a fault."""
        principal = grantee.grant_principal
        objects = self.bucket.arn_for_objects(f"{self.outputs_prefix}*")
        principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[objects]))
        principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{self.outputs_prefix}*"]}}))
        acknowledge_grant(principal, "Object keys are only known at run time: the function may check that an "
                                     f"earlier video under the '{self.outputs_prefix}' prefix still exists, and "
                                     "nothing else in the bucket.", finding=wildcard_resource(self, objects))

    def grant_write_outputs(self, grantee: iam.IGrantable) -> None:
        """Put (incl. multipart) and get objects under the outputs prefix; get presigns the video URL. Versions:
        an older upload's outputs move to a name of their own (copy one version, delete it from the shared
        name), and a reused video is a copy of one version of an earlier output."""
        principal = grantee.grant_principal
        objects = self.bucket.arn_for_objects(f"{self.outputs_prefix}*")
        principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject", "s3:GetObjectVersion",
                     "s3:DeleteObjectVersion"], resources=[objects]))
        acknowledge_grant(principal, "Object keys are only known at run time: the function may write videos and "
                                     f"manifests anywhere under the '{self.outputs_prefix}' prefix and nowhere else "
                                     "in the bucket.", finding=wildcard_resource(self, objects))
