"""A small IAM policy evaluator over a synthesized template, for the delivery and least-privilege tests.

CloudFormation values are rendered into example ARNs (account 111122223333, us-east-1, partition aws)
the way AWS would see them once deployed, so a statement's Principal, Action, Resource and Condition can
be matched against one request. It knows the condition operators the stack uses; any other operator
fails the test that meets it, so a new kind of statement is taught here rather than silently passed.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "111122223333"
REGION = "us-east-1"
PARTITION = "aws"
ROOT = f"arn:{PARTITION}:iam::{ACCOUNT}:root"
PSEUDO = {"AWS::Partition": PARTITION, "AWS::AccountId": ACCOUNT, "AWS::Region": REGION,
          "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": ""}


@dataclass(frozen=True)
class Caller:
    """Who makes a request: an AWS service principal, or a role of the template (its logical id)."""

    service: str | None = None
    role: str | None = None

    def __str__(self) -> str:
        return self.service or f"role {self.role}"


@dataclass
class Request:
    caller: Caller
    action: str
    resource: str  # rendered ARN
    context: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.context.setdefault("aws:SecureTransport", "true")
        self.context.setdefault("aws:SourceAccount", ACCOUNT)
        self.context.setdefault("aws:PrincipalAccount", ACCOUNT)


class Template:
    """The template's resources, rendered and queried."""

    def __init__(self, cfn: Mapping[str, Any], stack_name: str = "I2VPipeline") -> None:
        self.resources: Mapping[str, Any] = cfn["Resources"]
        self.stack_name = stack_name

    def of_type(self, cfn_type: str) -> dict[str, Any]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}

    # --- rendering ---------------------------------------------------------------------------------
    def render(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.render(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return self._ref(value["Ref"])
        if "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            return self._get_att(logical, attribute)
        if "Fn::Join" in value:
            delimiter, parts = value["Fn::Join"]
            return delimiter.join(str(self.render(p)) for p in parts)
        if "Fn::Split" in value:
            delimiter, text = value["Fn::Split"]
            return str(self.render(text)).split(delimiter)
        if "Fn::Select" in value:
            index, items = value["Fn::Select"]
            return self.render(items)[int(index)]
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            for name, actual in PSEUDO.items():
                text = text.replace("${" + name + "}", actual)
            return text
        return {k: self.render(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        if name in PSEUDO:
            return PSEUDO[name]
        if name == "AWS::StackName":
            return self.stack_name
        if name == "AWS::StackId":
            return f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack_name}/uuid"
        kind = self.resources[name]["Type"]
        props = self.resources[name].get("Properties", {})
        if kind == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{name}"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{props.get('StateMachineName', name)}"
        if kind == "AWS::CloudWatch::Alarm":
            return str(props.get("AlarmName", name))
        if kind == "AWS::SecretsManager::Secret":  # a secret's Ref is its ARN
            return self._get_att(name, "Arn")
        return name

    def _get_att(self, name: str, attribute: str) -> str:
        kind = self.resources[name]["Type"]
        props = self.resources[name].get("Properties", {})
        if attribute == "Arn":
            arns = {
                "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{name}",
                "AWS::SQS::Queue": f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{name}",
                "AWS::Lambda::Function": f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{name}",
                "AWS::CloudWatch::Alarm": f"arn:{PARTITION}:cloudwatch:{REGION}:{ACCOUNT}:alarm:"
                                          f"{props.get('AlarmName', name)}",
                "AWS::Events::Rule": f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/{name}",
                "AWS::KMS::Key": f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{name}",
                "AWS::IAM::Role": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}",
                "AWS::DynamoDB::Table": f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{name}",
                "AWS::SecretsManager::Secret": f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf",
                "AWS::Logs::LogGroup": f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
            }
            if kind in arns:
                return arns[kind]
        if kind == "AWS::SNS::Topic" and attribute == "TopicArn":
            return self._ref(name)
        if kind == "AWS::SQS::Queue" and attribute == "QueueName":
            return name
        return f"{name}.{attribute}"

    def arn(self, value: Any) -> str:
        """The ARN a Ref/GetAtt-like value names (a topic Ref is its ARN)."""
        return str(self.render(value))

    # --- policies ----------------------------------------------------------------------------------
    def resource_policies(self, cfn_type: str, list_property: str, target: str) -> list[dict[str, Any]]:
        """Statements of the resource policies (TopicPolicy, QueuePolicy) attached to ``target``."""
        statements: list[dict[str, Any]] = []
        for policy in self.of_type(cfn_type).values():
            attached = policy["Properties"][list_property]
            if {"Ref": target} in attached or self.arn({"Ref": target}) in [self.arn(a) for a in attached]:
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
        return statements

    def role_statements(self, role: str) -> list[dict[str, Any]]:
        """Every identity-policy statement of a role: its inline policies and the policies attached to it."""
        statements: list[dict[str, Any]] = []
        for policy in self.of_type("AWS::IAM::Policy").values():
            if {"Ref": role} in policy["Properties"].get("Roles", []):
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
        for inline in self.resources[role]["Properties"].get("Policies", []):
            statements += inline["PolicyDocument"]["Statement"]
        return statements

    def lambda_permission_statements(self, function: str) -> list[dict[str, Any]]:
        """AWS::Lambda::Permission resources of a function, as resource-policy statements."""
        out = []
        for permission in self.of_type("AWS::Lambda::Permission").values():
            props = permission["Properties"]
            if self.arn(props["FunctionName"]) not in (self._get_att(function, "Arn"), function):
                continue
            condition: dict[str, dict[str, Any]] = {}
            if "SourceArn" in props:
                condition["ArnLike"] = {"aws:SourceArn": props["SourceArn"]}
            if "SourceAccount" in props:
                condition["StringEquals"] = {"aws:SourceAccount": props["SourceAccount"]}
            principal = props["Principal"]
            out.append({"Effect": "Allow", "Action": props["Action"],
                        "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
                        "Resource": self._get_att(function, "Arn"), "Condition": condition})
        return out

    # --- evaluation --------------------------------------------------------------------------------
    def decide(self, statements: Iterable[Mapping[str, Any]], request: Request, *,
               identity: bool = False) -> str:
        """"deny", "allow" or "none" (no statement applies) for one request."""
        found = "none"
        for statement in statements:
            if not self._applies(statement, request, identity=identity):
                continue
            if statement["Effect"] == "Deny":
                return "deny"
            found = "allow"
        return found

    def _applies(self, statement: Mapping[str, Any], request: Request, *, identity: bool) -> bool:
        if not identity and not self._principal(statement.get("Principal"), request.caller):
            return False
        if not _matches_any(_as_list(statement.get("Action", [])), request.action, case=False):
            return False
        resources = [str(r) for r in _as_list(self.render(statement.get("Resource", "*")))]
        if not _matches_any(resources, request.resource):
            return False
        return self._conditions(statement.get("Condition", {}), request)

    def _principal(self, principal: Any, caller: Caller) -> bool:
        if principal in ("*", {"AWS": "*"}):
            return True
        if not isinstance(principal, dict):
            raise AssertionError(f"cannot read principal {principal!r}")
        if caller.service:
            return caller.service in _as_list(principal.get("Service", []))
        arns = [str(a) for a in _as_list(self.render(principal.get("AWS", [])))]
        return self._get_att(str(caller.role), "Arn") in arns or ROOT in arns or ACCOUNT in arns

    def _conditions(self, conditions: Mapping[str, Mapping[str, Any]], request: Request) -> bool:
        context = {k.lower(): v for k, v in request.context.items()}
        for operator, tests in conditions.items():
            base = operator.removesuffix("IfExists")
            for key, expected in tests.items():
                actual = context.get(key.lower())
                if actual is None:
                    if operator.endswith("IfExists"):
                        continue
                    return False
                values = [str(v) for v in _as_list(self.render(expected))]
                if base in ("StringEquals", "ArnEquals"):
                    ok = actual in values
                elif base in ("StringLike", "ArnLike"):
                    ok = _matches_any(values, actual)
                elif base == "Bool":
                    ok = actual.lower() in [v.lower() for v in values]
                else:
                    raise AssertionError(f"teach infra_policy the condition operator {operator}")
                if not ok:
                    return False
        return True

    # --- keys ----------------------------------------------------------------------------------------
    def key_allows(self, key: Any, caller: Caller, actions: Iterable[str], context: Mapping[str, str]) -> str | None:
        """None when ``caller`` may use the key for every action, else why not."""
        rendered = self.arn(key)
        if ":alias/aws/" in rendered or rendered.startswith("alias/aws/"):
            # An AWS managed key: its policy (not editable) lets principals of the account use it through
            # the service, and no other AWS service's principal.
            return None if caller.role else f"{caller} cannot use the AWS managed key {rendered}"
        logical = key["Fn::GetAtt"][0] if isinstance(key, dict) and "Fn::GetAtt" in key else None
        if logical is None or logical not in self.resources:
            return f"cannot find the key {rendered!r} in the template"
        statements = self.resources[logical]["Properties"]["KeyPolicy"]["Statement"]
        for action in actions:
            request = Request(caller, action, self._get_att(logical, "Arn"), dict(context))
            decision = self.decide(_key_policy(statements), request)
            if decision == "deny":
                return f"the key policy of {logical} denies {action} to {caller}"
            if decision == "allow" and caller.role and self._root_only(statements, request):
                # Delegation to the account: the role's own policy must allow it too.
                if self.decide(self.role_statements(caller.role), request, identity=True) != "allow":
                    return f"{caller} has no kms permission {action} on {logical}"
            elif decision != "allow":
                return f"the key policy of {logical} does not allow {action} to {caller}"
        return None

    def _root_only(self, statements: Iterable[Mapping[str, Any]], request: Request) -> bool:
        direct = [s for s in _key_policy(statements)
                  if s["Effect"] == "Allow" and ROOT not in json.dumps(self.render(s.get("Principal")))
                  and self._applies(s, request, identity=False)]
        return not direct


def _key_policy(statements: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """In a key policy, Resource "*" means the key itself."""
    for statement in statements:
        yield {**statement, "Resource": "*"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches_any(patterns: Iterable[Any], value: str, *, case: bool = True) -> bool:
    for pattern in patterns:
        text = str(pattern)
        if not case:
            text, candidate = text.lower(), value.lower()
        else:
            candidate = value
        if fnmatch.fnmatchcase(candidate, text):
            return True
    return False
