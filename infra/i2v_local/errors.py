"""One line for each error a command meets talking to AWS or a local cloud: what happened, what to do.

The command line prints it and exits 1; `i2v --debug ...` shows the traceback instead.
"""

from __future__ import annotations

from botocore import exceptions as aws

from i2v_local.ops import is_loopback

START_LOCAL = "start one with `i2v up` in another terminal, or pass the --endpoint-url it prints"
EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
REFUSED = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "InvalidAccessKeyId",
           "InvalidSignatureException", "AuthFailure"}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
MISSING = {"ResourceNotFoundException", "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
           "NoSuchBucket", "StateMachineDoesNotExist"}


def explain(exc: BaseException, endpoint_url: str | None = None) -> str:
    """What went wrong and what to do, in one line (no secrets: messages come from AWS or the network)."""
    if isinstance(exc, aws.ClientError):
        return _client_error(exc, endpoint_url)
    if isinstance(exc, (aws.NoCredentialsError, aws.PartialCredentialsError)):
        return ("no AWS credentials found: run `aws configure`, set AWS_PROFILE or pass --profile; "
                "a local cloud (`--endpoint-url http://127.0.0.1:4566`) needs none")
    if isinstance(exc, aws.NoRegionError):
        return "no AWS region set: pass --region (e.g. --region us-east-1) or set AWS_DEFAULT_REGION"
    if isinstance(exc, aws.ProfileNotFound):
        return (f"the AWS profile {exc.kwargs.get('profile')!r} does not exist: check --profile and AWS_PROFILE "
                "(`aws configure list-profiles` lists them)")
    if isinstance(exc, (aws.EndpointConnectionError, aws.ConnectionClosedError, aws.ConnectTimeoutError,
                        aws.ReadTimeoutError)):
        return _unreachable(endpoint_url or exc.kwargs.get("endpoint_url"), str(exc))
    if isinstance(exc, aws.BotoCoreError):
        return f"{exc}: check your AWS configuration (--profile, --region, --endpoint-url)"
    if isinstance(exc, ConnectionError | TimeoutError) or _is_requests_connection_error(exc):
        return _unreachable(endpoint_url, str(exc))
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
    return f"unexpected {type(exc).__name__}: {exc}"


def _client_error(exc: aws.ClientError, endpoint_url: str | None) -> str:
    error = exc.response.get("Error", {})
    code, message = error.get("Code", "?"), error.get("Message") or ""
    where = f"{exc.operation_name} answered {code}" + (f" ({message})" if message else "")
    if code in EXPIRED:
        return f"{where}: your AWS credentials have expired; refresh them (e.g. `aws sso login`) and try again"
    if code in REFUSED:
        return f"{where}: AWS does not accept these credentials; check --profile or AWS_ACCESS_KEY_ID"
    if code in DENIED:
        return f"{where}: these credentials may not do this; use a profile or role that may"
    if code in MISSING:
        if is_loopback(endpoint_url):
            return f"{where}: the local cloud at {endpoint_url} has no such resource; is it one `i2v up` started?"
        return f"{where}: check --stack and --region (the stack's resources are looked up there)"
    return f"{where}: check --stack, --region and your credentials"


def _unreachable(endpoint_url: str | None, detail: str) -> str:
    if is_loopback(endpoint_url):
        return f"nothing answers at {endpoint_url}: no local cloud is running there; {START_LOCAL}"
    target = endpoint_url or "AWS"
    return f"cannot reach {target} ({detail}): check your network, --region and --endpoint-url"


def _is_requests_connection_error(exc: BaseException) -> bool:
    try:
        import requests
    except ImportError:  # pragma: no cover - requests ships with the project
        return False
    return isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout)
