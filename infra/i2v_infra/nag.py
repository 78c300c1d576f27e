"""cdk-nag 3 acknowledgements, written beside the code that causes them.

cdk-nag 3 runs as a CDK policy-validation plugin; an acknowledgement is matched by exact rule id, and
a finding on one IAM wildcard is ``AwsSolutions-IAM5[Resource::<rendered ARN>]``. ``wildcard`` renders
an ARN token the way cdk-nag does, so each acknowledgement names exactly the wildcard it allows and
nothing else.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from constructs import IConstruct

PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, rule: str, reason: str, *, finding: str | None = None) -> None:
    """Acknowledges ``AwsSolutions-<rule>`` (or one ``[finding]`` of it) on ``scope`` and below."""
    rule_id = f"{PACK}-{rule}" + (f"[{finding}]" if finding else "")
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))


def wildcard_resource(scope: IConstruct, arn: str) -> str:
    """The IAM5 finding id part for a resource ARN (token or plain string) that contains ``*``."""
    return "Resource::" + _flatten(cdk.Stack.of(scope).resolve(arn))


def _flatten(node: Any) -> str:
    # Mirrors cdk-nag's utils/flatten-cfn-reference (3.0.x).
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(_flatten(item) for item in items)
        if "Fn::Sub" in node:
            return _flatten(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{_flatten(resource)}.{_flatten(attribute)}>"
        if "Fn::ImportValue" in node:
            return _flatten(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{_flatten(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))
