"""Each function's role holds exactly what its code calls, and nothing else (issue 11, finding 5).

The expected grants below were worked out from the adapters each function's step uses
(functions/i2v/runtime.py wires them; functions/i2v/aws/*.py make the calls):

- intake: JobsTable.get (GetItem), create/update/dead_letter (UpdateItem), DynamoBacklog.park
  (TransactWriteItems of two Updates: UpdateItem on jobs and on the control table's counter); reads the
  upload and probes `_defaults.json` (HeadObject/GetObject, with a version id); starts the failure
  report of a bad job; wakes the dispatcher; DynamoClaims (claim: PutItem, claimant/pending: GetItem,
  add_pending: UpdateItem) and a batch's DynamoLedger.open (PutItem) on the control table; a batch
  file's rows go back on the upload queue (SendMessage).
- dispatch: DynamoBacklog.head (Query on the `backlog` index), claim/unclaim/leave and the jobs table's
  intent record (UpdateItem; leave is a TransactWriteItems of Updates), size (GetItem of the counter);
  Capacity (BatchGetItem of the leases, UpdateItem to take and give back); Powertools idempotency
  (GetItem, PutItem, UpdateItem, DeleteItem on its table); HeadObject of the pinned image and a
  presigned GET of that version; the API key; StartExecution and DescribeExecution of `job-*`;
  wakes itself later. Pay once per content: DynamoContents (find: GetItem, produce: UpdateItem,
  forget: DeleteItem on the control table) and HeadObject of the earlier output's version and of its
  name (s3:GetObjectVersion and s3:GetObject under the outputs prefix); spend budgets: DynamoSpend (reserve:
  TransactWriteItems of two Updates, refund: UpdateItem, totals: GetItem on the control table).
- status: JobsTable.update (UpdateItem) and the API key.
- store: JobsTable.update, claim/unclaim of the notification (UpdateItem); Capacity.release
  (BatchGetItem, UpdateItem on the control table); writes the video (multipart) and the manifest, and
  presigns the video's GET; moves an older upload's outputs to a name of their own and copies a reused
  video (CopyObject of one version: s3:GetObjectVersion; DeleteObject of one version:
  s3:DeleteObjectVersion); DynamoContents (done: UpdateItem, release: DeleteItem on the control table);
  puts the notification on the EventBridge bus and publishes it on SNS; wakes the dispatcher.

TransactWriteItems has no IAM action of its own: DynamoDB authorizes each item action inside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from infra_policy import Caller, Request, Template
from infra_synth import EXISTING, Synth

from i2v import constants as c

pytestmark = pytest.mark.infra

LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")
XRAY = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
POLL = ("sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
        "sqs:ReceiveMessage")  # what CDK grants an SQS event source


def granted(synth: Synth, name: str) -> set[tuple[str, str]]:
    """(action, rendered resource) pairs of the function's role; conditions are checked separately."""
    t = Template(synth.cfn, synth.stack.stack_name)
    pairs = set()
    for statement in synth.role_statements(name):
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = t.render(statement["Resource"])
        for action in actions:
            for resource in resources if isinstance(resources, list) else [resources]:
                pairs.add((action, str(resource)))
    return pairs


class Arns:
    """The rendered ARNs of the stack's resources, as infra_policy renders them."""

    def __init__(self, synth: Synth) -> None:
        self.s = synth
        self.t = Template(synth.cfn, synth.stack.stack_name)

    def get(self, *path: str) -> str:
        return str(self.t.render({"Fn::GetAtt": [self.s.logical(*path), "Arn"]}))

    def ref(self, *path: str) -> str:
        return str(self.t.render({"Ref": self.s.logical(*path)}))

    def table(self, name: str) -> str:
        return self.get("Tables", name)

    def logs(self, name: str) -> str:
        return self.get("Functions", f"{name}Logs")

    def bucket(self) -> str:
        return self.get("Storage", "Bucket")


def _pairs(actions: tuple[str, ...] | list[str], resource: str) -> set[tuple[str, str]]:
    return {(a, resource) for a in actions}


def _ddb(actions: tuple[str, ...], resource: str) -> set[tuple[str, str]]:
    return _pairs([f"dynamodb:{a}" for a in actions], resource)


def expected(synth: Synth, name: str) -> set[tuple[str, str]]:
    a = Arns(synth)
    jobs, control, idempotency = a.table("Jobs"), a.table("Control"), a.table("Idempotency")
    uploads = f"{a.bucket()}/uploads/*"
    outputs = f"{a.bucket()}/outputs/*"
    machine = a.ref("Workflow", "StateMachine")
    wake = _pairs(["sqs:SendMessage"], a.get("Queue", "Wake"))
    secret = a.get("ApiKey", "Secret")
    base = _pairs(LOGS, a.logs(name.title())) | _pairs(XRAY, "*")
    read_uploads = _pairs(["s3:GetObject", "s3:GetObjectVersion"], uploads) | {("s3:ListBucket", a.bucket())}
    if name == c.FN_INTAKE:
        return (base | _pairs(POLL, a.get("Queue", "Uploads")) | read_uploads | wake
                | _pairs(["sqs:SendMessage"], a.get("Queue", "Uploads"))
                | _ddb(("GetItem", "UpdateItem"), jobs) | _ddb(("GetItem", "PutItem", "UpdateItem"), control)
                | {("states:StartExecution", machine)})
    if name == c.FN_DISPATCH:
        executions = f"arn:aws:states:us-east-1:111122223333:execution:{synth.stack.stack_name}-Pipeline:job-*"
        return (base | _pairs(POLL, a.get("Queue", "Wake")) | read_uploads | wake
                | _ddb(("UpdateItem",), jobs) | _ddb(("Query",), f"{jobs}/index/{c.BACKLOG_INDEX}")
                | _ddb(("BatchGetItem", "GetItem", "UpdateItem", "DeleteItem"), control)
                | _pairs(["s3:GetObject", "s3:GetObjectVersion"], outputs)
                | _ddb(("GetItem", "PutItem", "UpdateItem", "DeleteItem"), idempotency)
                | {("secretsmanager:GetSecretValue", secret), ("states:StartExecution", machine),
                   ("states:DescribeExecution", executions)})
    if name == c.FN_STATUS:
        return base | _ddb(("UpdateItem",), jobs) | {("secretsmanager:GetSecretValue", secret)}
    assert name == c.FN_STORE
    return (base | wake | _pairs(["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject", "s3:GetObjectVersion",
                                  "s3:DeleteObjectVersion"], outputs)
            | _ddb(("UpdateItem",), jobs) | _ddb(("BatchGetItem", "UpdateItem", "DeleteItem"), control)
            | {("sns:Publish", a.ref("Notifications", "Topic")),
               ("events:PutEvents", f"arn:aws:events:us-east-1:111122223333:event-bus/{c.DEFAULT_EVENT_BUS}")})


@pytest.mark.parametrize("name", c.FUNCTIONS)
def test_each_role_holds_exactly_what_its_function_calls(default_synth: Synth, name: str) -> None:
    have, want = granted(default_synth, name), expected(default_synth, name)
    assert sorted(have - want) == [], "granted but not used"
    assert sorted(want - have) == [], "used but not granted"


def test_no_role_may_scan_or_batch_write(any_synth: Synth) -> None:
    for name in c.FUNCTIONS:
        actions = {a for a, _ in granted(any_synth, name)}
        assert not actions & {"dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable",
                              "dynamodb:GetRecords", "dynamodb:GetShardIterator"}, name


@pytest.mark.parametrize("name", [c.FN_INTAKE, c.FN_DISPATCH])
def test_listing_is_limited_to_the_uploads_prefix(default_synth: Synth, name: str) -> None:
    """s3:ListBucket turns a missing `_defaults.json` into 404 instead of 403 (storage.py says why the
    s3:prefix condition keeps that); it lists nothing outside the uploads prefix, and for the dispatcher
    the outputs prefix (pay once per content: an earlier video deleted or its version removed is a 404,
    "make it again", not a 403)."""
    listings = [s for s in default_synth.role_statements(name) if s["Action"] == "s3:ListBucket"]
    prefixes = [["uploads/*"]] + ([["outputs/*"]] if name == c.FN_DISPATCH else [])
    assert sorted(s["Condition"]["StringLike"]["s3:prefix"] for s in listings) == sorted(prefixes)
    assert all(list(s["Condition"]) == ["StringLike"] for s in listings)
    t = Template(default_synth.cfn, default_synth.stack.stack_name)
    role = default_synth.function(name)["Role"]["Fn::GetAtt"][0]
    bucket = Arns(default_synth).bucket()

    def may_list(prefix: str | None) -> bool:
        context = {} if prefix is None else {"s3:prefix": prefix}
        return t.decide(t.role_statements(role), Request(Caller(role=role), "s3:ListBucket", bucket, context),
                        identity=True) == "allow"

    assert may_list("uploads/_defaults.json") and may_list("uploads/a/b/_defaults.json")
    assert may_list("outputs/a/cat.mp4") is (name == c.FN_DISPATCH)
    assert not may_list("") and not may_list(None) and not may_list("elsewhere/x")


# --- cdk-nag acknowledgements sit on exactly the resources whose findings they answer -----------------

def _acknowledged(synth: Synth) -> set[tuple[str, str]]:
    return {(logical, rule["id"]) for logical, resource in synth.cfn["Resources"].items()
            for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])}


def _raw_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **context: Any) -> set[tuple[str, str]]:
    """What cdk-nag finds when nothing is acknowledged: (logical id, rule id with its finding)."""
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks
    from infra_synth import synthesize

    from i2v_infra import nag

    monkeypatch.setattr(nag.cdk.Validations, "of", lambda scope: _Silent())
    synth = synthesize(tmp_path, **context)
    by_path = {n.node.path: synth.stack.get_logical_id(n) for n in synth.stack.node.find_all()
               if isinstance(n, cdk.CfnResource)}
    report = AwsSolutionsChecks().validate_scope(synth.app)
    return {(by_path[str(r.construct_path)], v.rule_name) for v in report.violations for r in v.violating_resources}


class _Silent:
    def acknowledge(self, *_: Any) -> None:
        pass

    def add_plugins(self, *_: Any) -> None:
        pass


@pytest.mark.parametrize("variant", ["default", "existing"])
def test_every_acknowledgement_answers_a_finding_on_its_own_resource(
        variant: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synth: Synth = request.getfixturevalue(f"{variant}_synth")
    raw = _raw_findings(tmp_path, monkeypatch, **(EXISTING if variant == "existing" else {}))
    acknowledged = _acknowledged(synth)
    assert sorted(acknowledged - raw) == [], "acknowledged where cdk-nag finds nothing (too wide a scope)"
    assert sorted(raw - acknowledged) == [], "found and not acknowledged"



def test_a_named_bus_is_the_one_bus_the_store_function_may_put_events_on(tmp_path: Path) -> None:
    from infra_synth import synthesize

    synth = synthesize(tmp_path, eventBusName="catalogue")
    for name in c.FUNCTIONS:
        puts = {resource for action, resource in granted(synth, name) if action.startswith("events:")}
        assert puts == ({"arn:aws:events:us-east-1:111122223333:event-bus/catalogue"} if name == c.FN_STORE
                        else set()), name
    assert synth.function(c.FN_STORE)["Environment"]["Variables"][c.ENV_EVENT_BUS] == "catalogue"
    assert synth.cfn["Outputs"]["EventBusName"]["Value"] == "catalogue"
