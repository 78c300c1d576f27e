"""IAM in the embedded cloud: every function calls AWS as a role that carries exactly the statements of
its role in the synthesized CDK template, and moto refuses whatever those statements do not allow.

How it fits together (all undone by ``LocalIam.stop``):

- ``RolePolicies.from_synthesized`` takes each function's role statements from the template as they
  are, CloudFormation tokens and all, and notes which template resource is which entry of the one
  resource description (``i2v_infra.resources``). ``render`` puts the local cloud's names and ARNs in
  place of the tokens: the jobs table's ``Fn::GetAtt`` becomes the local jobs table's ARN, and so on. A
  token it does not know fails the start: a new resource in a role is mapped here, never skipped.
- ``LocalIam.start`` creates, in moto, one role per function holding its rendered policy (and one for
  the state machine, which invokes the status and store functions), assumes each through STS, and then
  turns moto's authorization on (``INITIAL_NO_AUTH_ACTION_COUNT``). Those roles are checked on every
  request; any other caller (the harness, the command line with its made-up local keys, the pollers and
  the schedule, which stand for AWS itself) is let through unchecked as before: the local cloud holds
  the pipeline's roles to their statements, not the operator.
- Credentials switch per function: botocore asks ``Session.get_credentials`` once per client, and the
  signer asks the credentials object for frozen credentials on every request. While the cloud runs, a
  session answers a ``FunctionCredentials`` whose frozen credentials are those of the function running
  in the current thread (``lambda_runner.RUNNING``, set by ``InProcessLambdas.invoke``), or the
  session's own outside handlers. So the functions' cached clients (``i2v.aws.clients``, Powertools'
  idempotency and parameters) sign each call as the function that makes it, and the code in
  functions/ knows nothing of it. Work a handler hands to a thread pool (boto3's transfer manager
  streams the video in worker threads) runs as the function that handed it over. moto's Step Functions
  invokes Lambda with a client of its own, which signs as the state machine's role.
- A presigned URL is checked when it is used, as the function that signed it (the simulator fetches
  the image with the dispatcher's URL; users fetch the video with the store function's).

What moto does, what it does not, and what this module does instead. moto authenticates each request
(whose key signed it, is the signature valid, which policies its role holds: ``IAMRequest``); the
decision is ``decide``'s, because moto's own evaluation (``check_action_permitted``) is too simple:

- Resources: moto names them only for S3 and SQS; every other service asks for ``*``, which no
  statement scoped to an ARN matches. ``_resources`` names the resource of each call the functions make
  (DynamoDB tables and indexes, the topic, the state machine and its executions, the secret, the event
  bus, the functions the state machine invokes), and checks each item of a batch or a transaction as AWS
  does: TransactWriteItems has no IAM action of its own, each Update/Put/Delete/ConditionCheck inside
  it is authorized on its table.
- Conditions: moto evaluates none in identity policies (a statement with a condition counts as
  unconditional). ``decide`` evaluates StringLike and StringEquals (and their IfExists forms) against
  the request's condition keys, and fails on any other operator so that it is taught here. The only key
  a function's request carries is ``s3:prefix``: of a ListBucket, and of the 404-or-403 answer below.
  Global keys (aws:SecureTransport, aws:SourceArn, ...) are not set: no identity statement of the
  functions uses them, and the infrastructure tests check the statements that do, statically
  (tests/infra/test_least_privilege.py, test_delivery.py).
- S3's own rules: HeadObject of a version needs s3:GetObjectVersion, CopyObject reads its source
  (s3:GetObject[Version] on it), and reading an object that does not exist (no such key or version, or a
  delete marker) answers 403 rather than 404 unless the caller may s3:ListBucket the bucket with the key
  as ``s3:prefix`` (as storage.py explains; that AWS uses the key as the prefix there is what Ceph
  copied, not a documented rule). ``_s3_checks`` adds these.
- Glob patterns: moto turns only ``*`` into a wildcard and reads the rest as a regular expression;
  ``glob_match`` matches IAM's ``*`` and ``?`` and nothing else; actions match without regard to case.
- Not evaluated at all: resource-based policies (the topic's and queues' policies, the bucket's
  deny-non-TLS policy), key policies (the functions use AWS managed keys), permissions boundaries and
  SCPs (none), and the trust policies (the roles are assumed before enforcement starts). The delivery
  tests walk the resource and key policies in the synthesized template (tests/infra/test_delivery.py).
  The signature and expiry of a presigned URL are not verified (moto does not); its signer's
  permissions are.
- Not exercised: the logs and X-Ray statements (the Lambda runtime writes logs, tracing is off
  locally); tests/infra/test_least_privilege.py pins them.

Every refusal of a function's call is kept (``LocalIam.denied``), so a test fails on a missing
permission even where the pipeline shrugs the error off (a lost wake-up, say).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from botocore.credentials import Credentials, ReadOnlyCredentials

from i2v import constants as c
from i2v_infra.resources import FUNCTIONS, QUEUES, TABLES
from i2v_local.lambda_runner import RUNNING

REGION = "us-east-1"
ACCOUNT = "123456789012"
PARTITION = "aws"
SECRET_NAME = "i2v-local/highway-api-key"
WORKFLOW = "workflow"  # the state machine's role, beside the functions' roles
# A local cloud started without explicit policies reads them from this file (RolePolicies.save), and
# appends the refusals it met to the second: how the end-to-end tests put the clouds that the command
# line starts in a process of its own (i2v local, i2v demo, i2v up) under IAM too.
ENV_POLICIES = "I2V_LOCAL_IAM_POLICIES"
ENV_DENIED_LOG = "I2V_LOCAL_IAM_DENIED_LOG"
PSEUDO = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
          "AWS::URLSuffix": "amazonaws.com"}


# --- the roles as synthesized -------------------------------------------------------------------------

@dataclass
class RolePolicies:
    """Each function's role statements as the template holds them, and what its tokens stand for.

    ``statements``: by function name (constants.FN_*), and ``WORKFLOW`` for the state machine's role, the
    statements of every policy attached to that role, unrendered. ``resources``: template logical id ->
    what it is, as "table:<key>", "queue:<key>" (keys of TABLES and QUEUES), "bucket", "topic",
    "state_machine", "secret", "logs:<function>", "function:<function>". ``names``: the template's
    values of what the local cloud may configure differently ("uploads_prefix", "outputs_prefix",
    "event_bus", "state_machine").
    """

    statements: dict[str, list[dict[str, Any]]]
    resources: dict[str, str]
    names: dict[str, str]

    @classmethod
    def from_synthesized(cls, stack: Any, template: Mapping[str, Any]) -> RolePolicies:
        """From a synthesized ``PipelineStack`` (the CDK object, for its logical ids) and its template."""
        cfn = template["Resources"]

        def logical(*path: str) -> str | None:
            node = stack
            for part in path:
                node = node.node.try_find_child(part)
                if node is None:
                    return None
            element = node.node.default_child or node
            try:
                return str(stack.get_logical_id(element))
            except Exception:  # an imported resource (an existing bucket or secret) has none
                return None

        resources: dict[str, str] = {}
        candidates = {**{("Tables", s.construct_id): f"table:{k}" for k, s in TABLES.items()},
                      **{("Queue", s.construct_id): f"queue:{k}" for k, s in QUEUES.items()},
                      ("Storage", "Bucket"): "bucket", ("Notifications", "Topic"): "topic",
                      ("Workflow", "StateMachine"): "state_machine", ("ApiKey", "Secret"): "secret",
                      **{("Functions", f"{s.construct_id}Logs"): f"logs:{n}" for n, s in FUNCTIONS.items()},
                      **{("Functions", s.construct_id): f"function:{n}" for n, s in FUNCTIONS.items()}}
        for path, kind in candidates.items():
            found = logical(*path)
            if found is not None and found in cfn:
                resources[found] = kind

        def role_statements(who: str, role: str) -> list[dict[str, Any]]:
            props = cfn[role]["Properties"]
            if props.get("ManagedPolicyArns"):
                raise ValueError(f"the {who} role has managed policies {props['ManagedPolicyArns']}: "
                                 "teach i2v_local.iam to render them")
            found = [s for inline in props.get("Policies", []) for s in inline["PolicyDocument"]["Statement"]]
            for resource in cfn.values():
                if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"].get("Roles", []):
                    found += resource["Properties"]["PolicyDocument"]["Statement"]
            return found

        statements: dict[str, list[dict[str, Any]]] = {}
        env: dict[str, str] = {}
        for name, spec in FUNCTIONS.items():
            function = cfn[str(logical("Functions", spec.construct_id))]["Properties"]
            env.update(function.get("Environment", {}).get("Variables", {}))
            statements[name] = role_statements(name, function["Role"]["Fn::GetAtt"][0])
        machine = logical("Workflow", "StateMachine")
        if machine:
            statements[WORKFLOW] = role_statements(WORKFLOW, cfn[machine]["Properties"]["RoleArn"]["Fn::GetAtt"][0])
        names = {"uploads_prefix": env.get(c.ENV_UPLOADS_PREFIX, c.DEFAULT_UPLOADS_PREFIX),
                 "outputs_prefix": env.get(c.ENV_OUTPUTS_PREFIX, c.DEFAULT_OUTPUTS_PREFIX),
                 "event_bus": env.get(c.ENV_EVENT_BUS, c.DEFAULT_EVENT_BUS),
                 "state_machine": str(cfn[machine]["Properties"]["StateMachineName"]) if machine else ""}
        return cls(statements=statements, resources=resources, names=names)

    def to_json(self) -> str:
        return json.dumps({"statements": self.statements, "resources": self.resources, "names": self.names})

    @classmethod
    def from_json(cls, text: str) -> RolePolicies:
        data = json.loads(text)
        return cls(statements=data["statements"], resources=data["resources"], names=data["names"])

    def save(self, path: Path) -> None:
        path.write_text(self.to_json())

    @classmethod
    def load(cls, path: Path) -> RolePolicies:
        return cls.from_json(path.read_text())


def policies_from_environment() -> RolePolicies | None:
    path = os.environ.get(ENV_POLICIES)
    return RolePolicies.load(Path(path)) if path else None


def denied_log_from_environment() -> Path | None:
    path = os.environ.get(ENV_DENIED_LOG)
    return Path(path) if path else None


@dataclass(frozen=True)
class LocalNames:
    """The local cloud's resources, by the kinds ``RolePolicies.resources`` names."""

    tables: Mapping[str, str]  # TABLES key -> table name
    queue_arns: Mapping[str, str]  # QUEUES key -> ARN
    bucket: str
    topic_arn: str
    state_machine_arn: str
    secret_arn: str
    uploads_prefix: str
    outputs_prefix: str
    event_bus: str

    def arn(self, kind: str) -> str:
        what, _, key = kind.partition(":")
        if what == "table":
            return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{self.tables[key]}"
        if what == "queue":
            return self.queue_arns[key]
        if what == "logs":
            return f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{FUNCTIONS[key].local_name}:*"
        if what == "function":
            return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{FUNCTIONS[key].local_name}"
        return {"bucket": f"arn:{PARTITION}:s3:::{self.bucket}", "topic": self.topic_arn,
                "state_machine": self.state_machine_arn, "secret": self.secret_arn}[what]

    @property
    def state_machine_name(self) -> str:
        return self.state_machine_arn.rsplit(":", 1)[-1]


def render(roles: RolePolicies, local: LocalNames) -> dict[str, dict[str, Any]]:
    """Each function's policy document with the local cloud's names in place of the template's tokens."""
    renderer = _Renderer(roles, local)
    return {name: {"Version": "2012-10-17", "Statement": [renderer.statement(s) for s in statements]}
            for name, statements in roles.statements.items()}


class _Renderer:
    def __init__(self, roles: RolePolicies, local: LocalNames) -> None:
        self.roles, self.local = roles, local
        bucket = local.arn("bucket")
        names = roles.names
        # Template values the local cloud may configure differently, in rendered ARNs and s3:prefix values.
        self.prefixes = [(f"{bucket}/{names['uploads_prefix']}", f"{bucket}/{local.uploads_prefix}"),
                         (f"{bucket}/{names['outputs_prefix']}", f"{bucket}/{local.outputs_prefix}")]
        self.suffixes = [(f":event-bus/{names['event_bus']}", f":event-bus/{local.event_bus}")]
        self.machine = (f":execution:{names['state_machine']}:", f":execution:{local.state_machine_name}:")

    def statement(self, statement: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(statement)
        resources = self.value(statement.get("Resource", "*"))
        out["Resource"] = [self.arn(r) for r in resources] if isinstance(resources, list) else self.arn(resources)
        if "Condition" in statement:
            out["Condition"] = {op: {key: self.condition(key, value) for key, value in tests.items()}
                                for op, tests in self.value(statement["Condition"]).items()}
        return out

    def arn(self, value: Any) -> str:
        text = str(value)
        for old, new in self.prefixes:
            if text.startswith(old):
                text = new + text[len(old):]
        for old, new in self.suffixes:
            if text.endswith(old):
                text = text[: -len(old)] + new
        return text.replace(*self.machine) if self.machine[0] != ":execution::" else text

    def condition(self, key: str, value: Any) -> Any:
        if key != "s3:prefix":
            return value
        names, local = self.roles.names, self.local
        swap = {names["uploads_prefix"]: local.uploads_prefix, names["outputs_prefix"]: local.outputs_prefix}

        def one(v: str) -> str:
            for old, new in swap.items():
                if v.startswith(old):
                    return new + v[len(old):]
            return v

        return [one(str(v)) for v in value] if isinstance(value, list) else one(str(value))

    def value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            name = value["Ref"]
            if name in PSEUDO:
                return PSEUDO[name]
            return self._resource(name, "Ref")
        if "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            return self._resource(logical, attribute)
        if "Fn::Join" in value:
            delimiter, parts = value["Fn::Join"]
            return delimiter.join(str(self.value(p)) for p in parts)
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            text = value["Fn::Sub"]
            for name, actual in PSEUDO.items():
                text = text.replace("${" + name + "}", actual)
            if "${" in text:
                raise ValueError(f"cannot render {value!r} for the local cloud")
            return text
        return {k: self.value(v) for k, v in value.items()}

    def _resource(self, logical: str, attribute: str) -> str:
        kind = self.roles.resources.get(logical)
        if kind is None:
            raise ValueError(f"a role names {logical} ({attribute}), which i2v_local.iam does not map to a local "
                             "resource: add it to RolePolicies.from_synthesized")
        if attribute not in ("Arn", "Ref", "TopicArn"):
            raise ValueError(f"cannot render {logical}.{attribute} for the local cloud")
        return self.local.arn(kind)


# --- credentials that follow the running function ------------------------------------------------------

class FunctionCredentials(Credentials):
    """What every botocore session answers while the cloud runs: the role of the function running in
    the current thread, or outside handlers the credentials the session would have had."""

    method = "i2v-local-iam"
    account_id = None

    def __init__(self, fallback: Credentials | None, roles: Mapping[str, ReadOnlyCredentials]) -> None:
        # Not Credentials.__init__: the keys are properties that depend on the calling thread.
        self._fallback, self._roles = fallback, roles

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        running = RUNNING.get()
        if running is None or running not in self._roles:
            return self._fallback.get_frozen_credentials() if self._fallback else None  # type: ignore[return-value]
        return self._roles[running]

    @property  # type: ignore[override]
    def access_key(self) -> str:
        return str(self.get_frozen_credentials().access_key)

    @property  # type: ignore[override]
    def secret_key(self) -> str:
        return str(self.get_frozen_credentials().secret_key)

    @property  # type: ignore[override]
    def token(self) -> str | None:
        return self.get_frozen_credentials().token


def _use_credentials(roles: Mapping[str, ReadOnlyCredentials]) -> Callable[[], None]:
    """Every botocore session answers a ``FunctionCredentials`` (clients made with explicit keys keep
    theirs: the functions' code never does that)."""
    import botocore.session

    original = botocore.session.Session.get_credentials

    def get_credentials(self: Any) -> Credentials:
        return FunctionCredentials(original(self), roles)

    botocore.session.Session.get_credentials = get_credentials  # type: ignore[method-assign]

    def undo() -> None:
        botocore.session.Session.get_credentials = original  # type: ignore[method-assign]

    return undo


def _carry_identity_into_thread_pools() -> Callable[[], None]:
    """Work a handler submits to a thread pool runs as that handler's function (contextvars do not
    cross into pool threads by themselves)."""
    original = ThreadPoolExecutor.submit

    def submit(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        running = RUNNING.get()
        if running is None:
            return original(self, fn, *args, **kwargs)

        def as_function(*a: Any, **k: Any) -> Any:
            token = RUNNING.set(running)
            try:
                return fn(*a, **k)
            finally:
                RUNNING.reset(token)

        return original(self, as_function, *args, **kwargs)

    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]

    def undo() -> None:
        ThreadPoolExecutor.submit = original  # type: ignore[method-assign]

    return undo


def _workflow_calls_as(credentials: ReadOnlyCredentials) -> Callable[[], None]:
    """moto's Step Functions invokes the Task's Lambda through boto3 with made-up keys; here it signs with
    the state machine's role, so its lambda:InvokeFunction statement is checked too."""
    import sys

    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = original(region, service, state_credentials)
        client._request_signer._credentials = Credentials(credentials.access_key, credentials.secret_key,
                                                         credentials.token)
        return client

    # The source module (for modules imported from now on) and every module that already imported it.
    patched = [m for name, m in list(sys.modules.items())
               if name.startswith("moto.stepfunctions.parser") and getattr(m, "boto_client_for", None) is original]
    for module in patched:
        module.boto_client_for = boto_client_for  # type: ignore[attr-defined]

    def undo() -> None:
        for module in patched:
            module.boto_client_for = original  # type: ignore[attr-defined]

    return undo


# --- moto's authorization, completed -------------------------------------------------------------------

@dataclass(frozen=True)
class Denied:
    function: str  # constants.FN_*, or the caller's ARN when no function's role made the call
    action: str
    resource: str


@dataclass
class _Authorizer:
    """Replaces ``ActionAuthenticatorMixin._authenticate_and_authorize_action`` while the cloud runs."""

    callers: Mapping[str, str]  # access key id of a role this module assumed -> function name (or WORKFLOW)
    denied: list[Denied] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self) -> Callable[[], None]:
        from moto.core.authorization import ActionAuthenticatorMixin

        original = ActionAuthenticatorMixin._authenticate_and_authorize_action
        authorizer = self

        def authorize(response: Any, iam_request_cls: type, resource: str = "*") -> None:
            authorizer.authorize(response, iam_request_cls, resource)

        ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]

        def undo() -> None:
            ActionAuthenticatorMixin._authenticate_and_authorize_action = original  # type: ignore[method-assign]

        return undo

    def authorize(self, response: Any, iam_request_cls: type, resource: str) -> None:
        """moto authenticates (whose key, a valid signature); the decision is ``decide``'s, per check."""
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.iam.access_control import S3IAMRequest

        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            ActionAuthenticatorMixin.request_count += 1
            return
        headers, signed = response.headers, True
        if _presigned(response):
            headers, signed = _presigned_headers(response), False
        if _access_key(headers) not in self.callers:
            return  # not one of the pipeline's roles: the operator, the harness, AWS services
        query = urlparse(response.uri).query
        path = response.raw_path + (f"?{query}" if query else "")
        action = response._get_action()
        s3 = iam_request_cls is S3IAMRequest
        checks = _s3_checks(response, action, resource) if s3 else _checks(response, action, resource)
        for index, (each_action, each_resource, context) in enumerate(checks):
            request = iam_request_cls(account_id=response.current_account, method=response.method, path=path,
                                      data=response.data, body=response.raw_body, headers=headers,
                                      action=each_action)
            if index == 0 and signed:
                request.check_signature()
            if decide(request._access_key.collect_policies(), request._action, each_resource, context):
                continue
            self._refused(request, each_resource)
            if s3:
                request._raise_access_denied()
            raise _denial(response, request, each_resource)

    def _refused(self, request: Any, resource: str) -> None:
        caller = self.callers.get(str(request._access_key._access_key_id), str(request._access_key.arn))
        with self.lock:
            self.denied.append(Denied(caller, request._action, resource))


def _access_key(headers: Any) -> str:
    authorization = str(headers.get("Authorization") or "")
    return authorization.partition("Credential=")[2].partition("/")[0]


def glob_match(pattern: str, value: str) -> re.Match[str] | None:
    """IAM's wildcards: ``*`` any run of characters, ``?`` any one; everything else literal."""
    expression = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.match(f"^{expression}$", value, flags=re.DOTALL)


def decide(policies: Iterable[Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    """IAM's decision over identity policies: an explicit Deny wins, else any Allow; Action (case-blind),
    Resource (``*``/``?`` globs) and Condition (StringLike, StringEquals, their IfExists forms) all match."""
    from moto.iam.access_control import IAMPolicy

    allowed = False
    for policy in policies:
        document = IAMPolicy(policy)._policy_json
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        for statement in statements:
            if not _applies(statement, action, resource, context):
                continue
            if statement.get("Effect") != "Allow":
                return False
            allowed = True
    return allowed


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    def matches(element: str, value: str, case: bool = True) -> bool:
        patterns = statement.get(element, [])
        patterns = patterns if isinstance(patterns, list) else [patterns]
        return any(glob_match(p if case else p.lower(), value if case else value.lower()) for p in patterns)

    if "NotAction" in statement or "NotResource" in statement:
        raise AssertionError("teach i2v_local.iam NotAction/NotResource")
    if not matches("Action", action, case=False) or not matches("Resource", resource):
        return False
    for operator, tests in statement.get("Condition", {}).items():
        base = operator.removesuffix("IfExists")
        if base not in ("StringLike", "StringEquals"):
            raise AssertionError(f"teach i2v_local.iam the condition operator {operator}")
        for key, expected in tests.items():
            actual = context.get(key)
            values = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
            if actual is None:
                if operator.endswith("IfExists"):
                    continue
                return False  # a condition on a key the request does not have is not met
            ok = any(glob_match(v, actual) for v in values) if base == "StringLike" else actual in values
            if not ok:
                return False
    return True


def _denial(response: Any, request: Any, resource: str) -> Exception:
    """AWS's refusal: who, what, on which resource; JSON services answer AccessDeniedException."""
    from moto.core.exceptions import AccessDeniedError, JsonRESTError

    message = (f"User: {request._access_key.arn} is not authorized to perform: {request._action} on resource: "
               f"{resource} because no identity-based policy allows the {request._action} action")
    if "json" in str(response.headers.get("Content-Type", "")):
        return JsonRESTError("AccessDeniedException", message)
    return AccessDeniedError(user_arn=str(request._access_key.arn), action=request._action)


def _presigned(response: Any) -> bool:
    query = response.querystring
    return "Authorization" not in response.headers and ("X-Amz-Credential" in query or "AWSAccessKeyId" in query)


def _presigned_headers(response: Any) -> dict[str, str]:
    """A presigned request (SigV4 or SigV2) carries its credentials in the query string; moto reads them
    from the Authorization header."""
    query = response.querystring
    headers = {k: v for k, v in response.headers.items()}
    credential = (query["X-Amz-Credential"][0] if "X-Amz-Credential" in query
                  else f"{query['AWSAccessKeyId'][0]}/00000000/{response.region or REGION}/s3/aws4_request")
    headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=unverified"
    for name in ("X-Amz-Security-Token", "x-amz-security-token"):
        if name in query:
            headers["X-Amz-Security-Token"] = query[name][0]
    return headers


def _missing_key(response: Any, resource: str) -> bool:
    """No such object for this GET/HEAD: no version of the key, its latest a delete marker, or not the
    version asked for."""
    from moto.s3.models import FakeDeleteMarker, s3_backends

    bucket, _, key = resource.partition(":::")[2].partition("/")
    if not key:
        return False
    backend = s3_backends[response.current_account][PARTITION]
    if bucket not in backend.buckets:
        return False
    versions = backend.buckets[bucket].keys.getlist(key, []) or []
    version_id = (response.querystring.get("versionId") or [None])[0]
    if version_id:
        return not any(str(v.version_id) == version_id for v in versions)
    return not versions or isinstance(versions[-1], FakeDeleteMarker)


def _s3_checks(response: Any, action: str, resource: str) -> list[tuple[str, str, dict[str, str]]]:
    query = response.querystring
    checks: list[tuple[str, str, dict[str, str]]] = [(action, resource, {})]
    if action == "ListBucket":  # the prefix listed is the s3:prefix condition key (absent when none is given)
        prefix = (query.get("prefix") or [None])[0]
        checks = [(action, resource, {} if prefix is None else {"s3:prefix": str(prefix)})]
    if response.method == "HEAD" and "versionId" in query:
        checks = [("GetObjectVersion", resource, {})]
    source = response.headers.get("x-amz-copy-source")
    if response.method == "PUT" and source:
        source = unquote(source).lstrip("/")
        path, _, version = source.partition("?versionId=")
        checks.append(("GetObjectVersion" if version else "GetObject", f"arn:{PARTITION}:s3:::{path}", {}))
    if checks[0][0] in ("GetObject", "GetObjectVersion") and _missing_key(response, resource):
        # S3 answers a missing object with 404 only to a caller who may list the bucket, the key being the
        # s3:prefix (see i2v_infra.constructs.storage); anyone else gets 403.
        bucket, _, key = resource.partition(":::")[2].partition("/")
        checks.append(("ListBucket", f"arn:{PARTITION}:s3:::{bucket}", {"s3:prefix": key}))
    return checks


def _checks(response: Any, action: str, resource: str) -> list[tuple[str, str, dict[str, str]]]:
    """(action, resource ARN, condition keys) AWS authorizes for one request of the services the
    functions call."""
    return [(a, r, {}) for a, r in _resources(response, action, resource)]


def _resources(response: Any, action: str, resource: str) -> list[tuple[str, str]]:
    service = getattr(response, "service_name", "")
    region, account = response.region, response.current_account

    def param(name: str) -> Any:
        try:
            return response._get_param(name)
        except Exception:
            return None

    if service == "dynamodb":
        def table(name: str) -> str:
            return name if name.startswith("arn:") else f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{name}"

        body = response.body if isinstance(response.body, dict) else json.loads(response.body or "{}")
        if action in ("BatchGetItem", "BatchWriteItem"):
            return [(action, table(name)) for name in body.get("RequestItems", {})]
        if action in ("TransactWriteItems", "TransactGetItems"):
            inner = {"Update": "UpdateItem", "Put": "PutItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
            return [(inner[kind], table(item[kind]["TableName"]))
                    for item in body.get("TransactItems", []) for kind in item]
        if "TableName" in body:
            arn = table(body["TableName"])
            if body.get("IndexName"):
                arn += f"/index/{body['IndexName']}"
            return [(action, arn)]
        return [(action, resource)]
    if service == "awslambda" and action in ("Invoke", "InvokeAsync"):
        found = re.search(r"/functions/([^/]+)/invo", unquote(response.path))
        name = found.group(1) if found else "*"
        arn = name if name.startswith("arn:") else f"arn:{PARTITION}:lambda:{region}:{account}:function:{name}"
        return [("InvokeFunction", arn)]
    if service == "sns":
        return [(action, param("TopicArn") or param("TargetArn") or resource)]
    if service == "stepfunctions":
        return [(action, param("executionArn") or param("stateMachineArn") or resource)]
    if service == "secretsmanager":
        secret_id = param("SecretId")
        return [(action, _secret_arn(account, region, secret_id) if secret_id else resource)]
    if service == "events" and action == "PutEvents":
        buses = {str(e.get("EventBusName") or c.DEFAULT_EVENT_BUS) for e in param("Entries") or []}
        return [(action, b if b.startswith("arn:") else f"arn:{PARTITION}:events:{region}:{account}:event-bus/{b}")
                for b in sorted(buses)] or [(action, resource)]
    return [(action, resource)]


def _secret_arn(account: str, region: str, secret_id: str) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    store = secretsmanager_backends[account][region].secrets
    found = store.get(secret_id)
    if found is not None:
        return str(found.arn)
    return secret_id if secret_id.startswith("arn:") else f"arn:{PARTITION}:secretsmanager:{region}:{account}:secret:{secret_id}"


# --- the whole mode ------------------------------------------------------------------------------------

class LocalIam:
    """Roles, credentials and enforcement for one run of the local cloud."""

    def __init__(self, roles: RolePolicies, denied_log: Path | None = None) -> None:
        self.roles = roles
        self.denied_log = denied_log  # where stop() appends the refusals (JSON lines), if anywhere
        self.policies: dict[str, dict[str, Any]] = {}
        self.role_arns: dict[str, str] = {}
        self.secret_arn = ""
        self._authorizer: _Authorizer | None = None
        self._undo: list[Callable[[], None]] = []

    @property
    def denied(self) -> list[Denied]:
        """Every refusal of a call so far (function, action, resource)."""
        return list(self._authorizer.denied) if self._authorizer else []

    def create_secret(self, clients: Callable[[str], Any], api_key: str) -> str:
        """The API key in a local secret (the template's secret), so dispatch and status read it as in AWS."""
        self.secret_arn = str(clients("secretsmanager").create_secret(Name=SECRET_NAME, SecretString=api_key)["ARN"])
        return self.secret_arn

    def start(self, clients: Callable[[str], Any], local: LocalNames) -> None:
        """Create the roles, assume them, then enforce. ``clients(service)`` makes
        clients that moto accepts before enforcement starts."""
        from moto import settings

        self.policies = render(self.roles, local)
        iam, sts = clients("iam"), clients("sts")
        assumed: dict[str, ReadOnlyCredentials] = {}
        callers: dict[str, str] = {}
        for name, policy in self.policies.items():
            session = f"i2v-{name}"  # the function's local name, or i2v-workflow
            role_name = f"{session}-role"
            service = "states.amazonaws.com" if name == WORKFLOW else "lambda.amazonaws.com"
            trust = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}]}
            self.role_arns[name] = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust),
                                                   Description=f"i2v {name} (local)")["Role"]["Arn"]
            iam.put_role_policy(RoleName=role_name, PolicyName="DefaultPolicy", PolicyDocument=json.dumps(policy))
            reply = sts.assume_role(RoleArn=self.role_arns[name], RoleSessionName=session,
                                    DurationSeconds=43200)["Credentials"]
            assumed[name] = ReadOnlyCredentials(reply["AccessKeyId"], reply["SecretAccessKey"], reply["SessionToken"])
            callers[assumed[name].access_key] = name
        self._authorizer = _Authorizer(callers)
        by_local_name = {FUNCTIONS[n].local_name: assumed[n] for n in FUNCTIONS}
        self._undo += [self._authorizer.install(), _use_credentials(by_local_name),
                       _carry_identity_into_thread_pools(), _forget_powertools_clients()]
        if WORKFLOW in assumed:
            self._undo.append(_workflow_calls_as(assumed[WORKFLOW]))
        previous = settings.INITIAL_NO_AUTH_ACTION_COUNT
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # moto checks every request from now on

        def restore() -> None:
            settings.INITIAL_NO_AUTH_ACTION_COUNT = previous

        self._undo.append(restore)

    def stop(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        if self.denied_log is not None and self.denied:
            with self.denied_log.open("a") as log:
                for refused in self.denied:
                    log.write(json.dumps(refused.__dict__) + "\n")

    def as_function(self, name: str) -> _As:
        """``with iam.as_function("status"): ...`` runs code with that function's identity (for tests)."""
        return _As(FUNCTIONS[name].local_name)


class _As:
    def __init__(self, local_name: str) -> None:
        self.local_name = local_name
        self._tokens: list[Any] = []

    def __enter__(self) -> None:
        self._tokens.append(RUNNING.set(self.local_name))

    def __exit__(self, *exc: object) -> None:
        RUNNING.reset(self._tokens.pop())


def _forget_powertools_clients() -> Callable[[], None]:
    """Powertools keeps one parameters provider (with its client and cache) per process: made again
    against this cloud, and forgotten when it stops."""
    def forget() -> None:
        try:
            from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
        except ImportError:  # pragma: no cover - Powertools is a dependency of the functions
            return
        DEFAULT_PROVIDERS.clear()

    forget()
    return forget


def denied_summary(denied: Iterable[Denied]) -> str:
    return "\n".join(sorted({f"  {d.function}: {d.action} on {d.resource}" for d in denied}))
