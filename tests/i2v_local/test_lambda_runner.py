"""Running handlers in place of moto's Docker Lambdas (infra/i2v_local/lambda_runner.py)."""

from __future__ import annotations

import json

from moto.awslambda.models import LambdaFunction

from i2v_local.lambda_runner import InProcessLambdas


class Function:
    """Stands for moto's LambdaFunction object as Step Functions' threads hold it."""

    _invoke_lambda = LambdaFunction._invoke_lambda

    def __init__(self, name: str, runner: InProcessLambdas) -> None:
        self.function_name = name
        self._i2v_runner = runner


def test_a_workflow_of_a_stopped_cloud_never_reaches_the_cloud_that_runs_now():
    old, new = InProcessLambdas(), InProcessLambdas()
    new.register("i2v-store", "json.dumps", 5)
    undo = new.patch_moto()
    try:
        Function._invoke_lambda = LambdaFunction._invoke_lambda
        payload, errored, _ = Function("i2v-store", old)._invoke_lambda({"a": 1})
        assert errored and json.loads(payload)["errorType"] == "CloudStopped"
        assert new.invocations == {}  # the running cloud's function never ran
        payload, errored, _ = Function("i2v-store", new)._invoke_lambda({"a": 1})
        assert new.invocations == {"i2v-store": 1}
    finally:
        undo()
