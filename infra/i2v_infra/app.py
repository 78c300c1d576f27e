"""CDK entry point: `python -m i2v_infra.app` (what cdk.json's "app" runs).

Synth is offline: the stack is environment-agnostic (no account, region or lookups), and the code
asset is bundled with pip, not Docker. cdk-nag's AWS Solutions pack runs as a validation plugin, so
an unacknowledged finding fails synth.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from i2v_infra.config import AppConfig, ConfigError
from i2v_infra.stack import PipelineStack

# CDK feature flags the stack relies on (newer, safer behaviour); set here rather than in cdk.json so
# every way of building the app (cdk CLI, tests, the local cloud) gets the same template.
FEATURE_FLAGS = {
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,  # access logs by bucket policy, not ACL
    "@aws-cdk/aws-s3:createDefaultLoggingPolicy": True,
    "@aws-cdk/aws-s3:keepNotificationInImportedBucket": True,  # keep an existing bucket's other notifications
    "@aws-cdk/aws-s3:publicAccessBlockedByDefault": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/core:enablePartitionLiterals": True,
    "@aws-cdk/aws-kms:reduceCrossAccountRegionPolicyScope": True,
    "@aws-cdk/core:validateSnapshotRemovalPolicy": True,
}

DESCRIPTION = ("i2v: S3 images -> SQS -> Lambda -> Step Functions -> HighwayAPI KLING V1.6 "
               "image-to-video -> S3 + SNS")


def build_app(context: Mapping[str, Any] | None = None, *, outdir: str | None = None,
              **app_options: Any) -> tuple[cdk.App, PipelineStack]:
    """The app with its one stack and cdk-nag attached; nothing is synthesized yet."""
    app = cdk.App(context={**FEATURE_FLAGS, **(context or {})}, outdir=outdir, **app_options)
    config = AppConfig.from_context(app.node.try_get_context)
    stack = PipelineStack(app, config.stack_name, config=config, description=DESCRIPTION)
    cdk.Tags.of(stack).add("project", "i2v")
    # Acknowledged findings are also written into the template's Metadata (cdk_nag.rules_to_suppress),
    # so each one's reason travels with the resource it concerns.
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True))
    return app, stack


def main() -> None:
    try:
        app, _ = build_app()
    except ConfigError as exc:
        sys.exit(f"i2v_infra: {exc}")
    app.synth()


if __name__ == "__main__":
    main()
