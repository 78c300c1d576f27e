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
from constructs import Construct, IConstruct

PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, rule: str, reason: str, *, finding: str | None = None) -> None:
    """Acknowledges ``AwsSolutions-<rule>`` (or one ``[finding]`` of it) on exactly the CloudFormation
    resource of ``scope`` (``scope`` itself or its default child), never on the constructs below it: an
    acknowledgement on a function would otherwise also cover its event source mapping, one on a queue its
    queue policy."""
    rule_id = f"{PACK}-{rule}" + (f"[{finding}]" if finding else "")
    cdk.Validations.of(_resource(scope)).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))


def acknowledge_grant(principal: object, reason: str, *, finding: str) -> None:
    """Acknowledges one IAM5 wildcard in the default policy of a role (where cdk-nag finds it)."""
    if not isinstance(principal, Construct):
        return  # an imported principal: its policy is not part of this stack
    policy = principal.node.try_find_child("DefaultPolicy")
    if policy is None:
        raise ValueError(f"{principal.node.path} has no default policy yet; grant before acknowledging")
    acknowledge(policy, "IAM5", reason, finding=finding)


def _resource(scope: IConstruct) -> cdk.CfnResource:
    if isinstance(scope, cdk.CfnResource):
        return scope
    child = scope.node.default_child
    if isinstance(child, cdk.CfnResource):
        return child
    raise TypeError(f"{scope.node.path} has no CloudFormation resource of its own to acknowledge a finding on")


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
