"""Least privilege proven by running it (issue 11, finding 4): the embedded cloud with IAM on, each
function calling AWS as a role holding exactly its statements in the synthesized template.

Every end-to-end test runs that way (tests/support.py's Pipeline); here, a normal upload ends SUCCEEDED
with every role enforced, and the real adapter code, run in a function's identity, is refused what its
role does not hold. What moto cannot evaluate (the s3:prefix condition beyond a missing key's answer,
resource and key policies) is listed in i2v_local/iam.py and held by tests/infra.
"""

from __future__ import annotations

import json
import os
import time

import pytest
import requests
from botocore.exceptions import ClientError

from i2v import constants as c
from i2v_local.iam import WORKFLOW, Denied, LocalNames, RolePolicies, decide, glob_match, render
from support import Pipeline, image_bytes, template_roles

pytestmark = pytest.mark.e2e

ACCOUNT, REGION = "123456789012", "us-east-1"


def _refused(call) -> str:
    """The error code of a call that must be refused."""
    with pytest.raises(Exception) as caught:
        call()
    exc = caught.value
    code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else str(exc)
    assert "AccessDenied" in code or code == "403", f"expected AccessDenied, got {type(exc).__name__}: {exc}"
    return code


def test_a_normal_upload_succeeds_with_every_role_enforced(notification_validator):
    with Pipeline() as p:
        iam = p.cloud.iam
        assert iam is not None and set(iam.policies) == {*c.FUNCTIONS, WORKFLOW}
        # dispatch and status read the provider key from the secret, with their roles, as in AWS
        assert os.environ[c.ENV_API_KEY_SECRET] == iam.secret_arn
        p.put("uploads/shoe.png", image_bytes())
        [note] = p.wait_for(1, timeout=90, settle=1)
        video = requests.get(note["notification"]["output"]["url"], timeout=10)  # presigned by the store role
        invoked = dict(p.cloud.lambdas.invocations)
    assert p.denied == []
    notification_validator.validate(note["notification"])
    assert note["notification"]["status"] == "SUCCEEDED"
    assert video.status_code == 200 and video.content
    assert {f"i2v-{name}" for name in c.FUNCTIONS} <= set(invoked)  # every role made calls


def test_each_role_holds_exactly_its_template_statements():
    """The rendered policies are the template's statements, one for one, with local names for tokens."""
    roles = template_roles()
    local = LocalNames(tables={"jobs": "j", "idempotency": "i", "control": "k"},
                       queue_arns={k: f"arn:aws:sqs:{REGION}:{ACCOUNT}:{k}" for k in ("uploads", "uploads_dlq", "wake")},
                       bucket="b-local", topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:t",
                       state_machine_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m",
                       secret_arn=f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:s-AbCdEf",
                       uploads_prefix="in/", outputs_prefix="out/", event_bus="bus")
    policies = render(roles, local)
    for name, statements in roles.statements.items():
        rendered = policies[name]["Statement"]
        assert [s["Action"] for s in rendered] == [s["Action"] for s in statements], name
        text = json.dumps(rendered)
        assert "Fn::" not in text and '"Ref"' not in text, name
    text = json.dumps(policies)
    assert "arn:aws:s3:::b-local/in/*" in text and "arn:aws:s3:::b-local/out/*" in text
    assert f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/bus" in text
    assert f"arn:aws:states:{REGION}:{ACCOUNT}:execution:m:job-*" in text
    assert '"s3:prefix": ["in/*"]' in text
    unknown = RolePolicies(statements={"x": [{"Effect": "Allow", "Action": "s3:GetObject",
                                              "Resource": {"Fn::GetAtt": ["SomethingNew", "Arn"]}}]},
                           resources=roles.resources, names=roles.names)
    with pytest.raises(ValueError, match="SomethingNew"):
        render(unknown, local)  # a resource the local cloud cannot name fails, never passes unchecked


def test_the_decision_follows_iam_where_moto_does_not():
    """Globs are IAM's (not regular expressions), an explicit Deny wins, conditions are evaluated."""
    assert glob_match("arn:aws:s3:::b/uploads/*", "arn:aws:s3:::b/uploads/a/b.png")
    assert not glob_match("arn:aws:s3:::b.x/*", "arn:aws:s3:::bax/k")  # '.' is a dot
    assert glob_match("secret:k-??????", "secret:k-AbCdEf") and not glob_match("secret:k-??????", "secret:k-AbC")
    allow = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
             "Condition": {"StringLike": {"s3:prefix": ["uploads/*"]}}}
    policy = json.dumps({"Statement": [allow]})
    assert decide([policy], "s3:listbucket", "arn:aws:s3:::b", {"s3:prefix": "uploads/x"})
    assert not decide([policy], "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "outputs/x"})
    assert not decide([policy], "s3:ListBucket", "arn:aws:s3:::b", {})  # no prefix: not met
    if_exists = {**allow, "Condition": {"StringLikeIfExists": {"s3:prefix": ["uploads/*"]}}}
    assert decide([json.dumps({"Statement": [if_exists]})], "s3:ListBucket", "arn:aws:s3:::b", {})
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    assert not decide([policy, json.dumps({"Statement": deny})], "s3:ListBucket", "arn:aws:s3:::b",
                      {"s3:prefix": "uploads/x"})
    untaught = {**allow, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
    with pytest.raises(AssertionError, match="IpAddress"):
        decide([json.dumps({"Statement": [untaught]})], "s3:ListBucket", "arn:aws:s3:::b", {})


def test_calls_outside_a_role_are_refused():
    """Real adapter code in a function's identity: what its role holds passes, the rest is refused."""
    from i2v.aws.control_table import DynamoLeaseStore
    from i2v.aws.s3 import S3Bucket
    from i2v.aws.secrets import api_key
    from i2v.aws.waker import Waker
    from i2v.aws.workflow import Workflow

    with Pipeline(expect_denied=True) as p:
        iam, cloud = p.cloud.iam, p.cloud
        assert iam is not None
        bucket, secret, control = cloud.config.bucket, iam.secret_arn, cloud.tables["control"]
        p.put("uploads/notes.txt", b"not a job: no workflow outlives this test")
        machine = cloud.state_machine_arn

        with iam.as_function(c.FN_STATUS):
            assert api_key(secret, force_fetch=True) == p.api_key  # its role holds the secret
            _refused(lambda: S3Bucket(bucket).put_json("outputs/forged.json", {"by": "status"}))
            _refused(lambda: DynamoLeaseStore(control).give_back("slot#0", "someone"))
            status_url = S3Bucket(bucket).presign_get("uploads/notes.txt", 60)
        with iam.as_function(c.FN_STORE):
            _refused(lambda: api_key(secret, force_fetch=True))
            _refused(lambda: S3Bucket(bucket).read_all("uploads/notes.txt", 100))
            assert S3Bucket(bucket).put_json("outputs/ok.json", {"by": "store"})  # its own prefix
        with iam.as_function(c.FN_INTAKE):
            _refused(lambda: api_key(secret, force_fetch=True))  # no provider submission from intake
            _refused(lambda: Workflow(machine).is_running("job-x"))
            Waker(cloud.resources.queue_urls["wake"]).wake("test")  # it may wake the dispatcher
        with iam.as_function(c.FN_DISPATCH):
            dispatch_url = S3Bucket(bucket).presign_get("uploads/notes.txt", 60)
            assert not Workflow(machine).is_running("job-x")  # DescribeExecution of job-*: held
        # A presigned URL is checked when used, as its signer: the dispatcher's opens, the status function's not.
        assert requests.get(dispatch_url, timeout=10).status_code == 200
        assert requests.get(status_url, timeout=10).status_code == 403
        denied = set(p.cloud.iam.denied)

    bucket_arn = f"arn:aws:s3:::{bucket}"
    control_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{control}"
    assert denied == {
        Denied(c.FN_STATUS, "s3:PutObject", f"{bucket_arn}/outputs/forged.json"),
        Denied(c.FN_STATUS, "dynamodb:UpdateItem", control_arn),
        Denied(c.FN_STATUS, "s3:GetObject", f"{bucket_arn}/uploads/notes.txt"),  # its presigned URL, when used
        Denied(c.FN_STORE, "secretsmanager:GetSecretValue", secret),
        Denied(c.FN_STORE, "s3:GetObject", f"{bucket_arn}/uploads/notes.txt"),
        Denied(c.FN_INTAKE, "secretsmanager:GetSecretValue", secret),
        Denied(c.FN_INTAKE, "states:DescribeExecution", machine.replace(":stateMachine:", ":execution:") + ":job-x"),
    }


def test_the_state_machine_may_invoke_only_its_two_functions():
    """moto's Step Functions invokes Lambda as the state machine's role: a Task naming another function fails."""
    with Pipeline(expect_denied=True) as p:
        sfn, made = p.cloud.client("stepfunctions"), p.cloud.resources
        definition = {"StartAt": "Intake", "States": {"Intake": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
            "Parameters": {"FunctionName": made.function_arns[c.FN_INTAKE], "Payload": {"Records": []}}}}}
        role = p.cloud.iam.role_arns[WORKFLOW]
        other = sfn.create_state_machine(name="other", definition=json.dumps(definition), roleArn=role)
        execution = sfn.start_execution(stateMachineArn=other["stateMachineArn"])["executionArn"]
        end = time.monotonic() + 30
        while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING" and time.monotonic() < end:
            time.sleep(0.2)
        status = sfn.describe_execution(executionArn=execution)["status"]
        failures = [e["taskFailedEventDetails"] for e in sfn.get_execution_history(executionArn=execution)["events"]
                    if e["type"] == "TaskFailed"]
    assert status == "FAILED" and failures and all("AccessDenied" in f["cause"] for f in failures)
    assert set(p.denied) == {Denied(WORKFLOW, "lambda:InvokeFunction", made.function_arns[c.FN_INTAKE])}


def test_listing_is_held_to_the_s3_prefix_condition():
    """The s3:prefix condition on ListBucket is evaluated (moto ignores conditions): intake may list under
    the uploads prefix only, and a missing key answers 404 only to a role that may list it, else 403."""
    from i2v.aws.clients import client
    from i2v.aws.s3 import S3Bucket

    with Pipeline(expect_denied=True) as p:
        iam, bucket = p.cloud.iam, p.cloud.config.bucket
        assert iam is not None
        with iam.as_function(c.FN_INTAKE):
            s3 = client("s3")
            assert s3.list_objects_v2(Bucket=bucket, Prefix="uploads/a/")["KeyCount"] == 0
            _refused(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="outputs/"))
            _refused(lambda: s3.list_objects_v2(Bucket=bucket))  # no prefix: the condition is not met
            assert S3Bucket(bucket).head("uploads/a/_defaults.json") is None  # 404: nothing there
        with iam.as_function(c.FN_STORE):
            assert _refused(lambda: S3Bucket(bucket).head("outputs/none.mp4")) == "403"  # may not list
        denied = [(d.function, d.action) for d in iam.denied]
    assert sorted(denied) == [(c.FN_INTAKE, "s3:ListBucket"), (c.FN_INTAKE, "s3:ListBucket"),
                              (c.FN_STORE, "s3:ListBucket")]
