"""Run Lambda handlers in-process in place of moto's Docker containers.

moto calls ``LambdaFunction._invoke_lambda(event)`` for every path (Step Functions tasks,
direct invokes, event sources); replacing it runs our real handler and returns what a Lambda
would: the JSON payload, whether it errored, and the log text.

``RUNNING`` names the function whose handler runs in the current thread (None outside handlers): the
local cloud's IAM mode (i2v_local.iam) signs each AWS call with that function's role.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

RUNNING: ContextVar[str | None] = ContextVar("i2v_local_running_function", default=None)


class LambdaCrash(BaseException):
    """Raise inside a handler to act out a hard crash (killed, out of memory, timed out).

    A BaseException on purpose: like a real crash it skips the handler's own `except Exception`
    clean-up (Powertools idempotency keeps its in-progress record, nothing is rolled back).
    """


@dataclass
class FakeContext:
    """The parts of the Lambda context object that Powertools reads."""

    function_name: str
    timeout_seconds: float = 300.0
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


def load_handler(spec: str) -> Callable:
    module_name, _, attr = spec.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


class InProcessLambdas:
    """Maps function names to handler specs and runs them; counts invocations per function."""

    def __init__(self) -> None:
        self.handlers: dict[str, str] = {}
        self.timeouts: dict[str, float] = {}
        self.invocations: dict[str, int] = {}
        self.errors: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def register(self, function_name: str, handler: str, timeout: float) -> None:
        self.handlers[function_name] = handler
        self.timeouts[function_name] = timeout

    def invoke(self, function_name: str, event) -> tuple[str, bool, str]:
        if isinstance(event, (str, bytes)):
            event = json.loads(event or "{}")
        with self._lock:
            self.invocations[function_name] = self.invocations.get(function_name, 0) + 1
        handler = load_handler(self.handlers[function_name])
        context = FakeContext(function_name, self.timeouts.get(function_name, 300.0))
        running = RUNNING.set(function_name)
        try:
            result = handler(event, context)
            return json.dumps(result), False, ""
        except LambdaCrash as exc:
            with self._lock:
                self.errors.append((function_name, f"crash: {exc}"))
            return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": str(exc)}), True, ""
        except Exception as exc:  # what the Lambda runtime reports for an unhandled error
            with self._lock:
                self.errors.append((function_name, f"{type(exc).__name__}: {exc}"))
            payload = {"errorType": type(exc).__name__, "errorMessage": str(exc),
                       "stackTrace": traceback.format_tb(exc.__traceback__)[-3:]}
            return json.dumps(payload), True, ""
        finally:
            RUNNING.reset(running)

    def own(self, function_name: str, account: str = "123456789012", region: str = "us-east-1") -> None:
        """Mark moto's function object as this runner's (see patch_moto)."""
        from moto.awslambda.models import lambda_backends

        function = lambda_backends[account][region].get_function(function_name)
        function._i2v_runner = self

    def patch_moto(self) -> Callable[[], None]:
        """Route moto's Lambda invocations here; returns the function that undoes it."""
        from moto.awslambda.models import LambdaFunction

        original = LambdaFunction._invoke_lambda
        runner = self

        def _invoke_lambda(self, event=None):  # noqa: ANN001 - moto's signature
            # A workflow of a cloud that has stopped may still be running in its thread: it must not
            # reach the functions of the cloud that runs now (same names, another endpoint).
            if getattr(self, "_i2v_runner", runner) is not runner:
                return json.dumps({"errorType": "CloudStopped", "errorMessage": "its local cloud has stopped"}), \
                    True, ""
            return runner.invoke(self.function_name, event)

        LambdaFunction._invoke_lambda = _invoke_lambda

        def undo() -> None:
            LambdaFunction._invoke_lambda = original

        return undo
