"""Start the polling workflow for a job, idempotently by execution name."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from i2v.aws.clients import client


class Workflow:
    def __init__(self, state_machine_arn: str) -> None:
        self.arn = state_machine_arn
        self.sfn = client("stepfunctions")

    def start(self, name: str, state: dict[str, Any]) -> bool:
        """Start the execution; False if one with this name already exists (a duplicate event)."""
        try:
            self.sfn.start_execution(stateMachineArn=self.arn, name=name, input=json.dumps(state))
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return False
            raise

    def is_running(self, name: str) -> bool:
        """Whether the execution of this name is still running (it holds the job's capacity until it ends)."""
        arn = self.arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
        try:
            return bool(self.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return False
            raise
