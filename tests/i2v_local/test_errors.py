"""One line for each error a command meets talking to AWS or a local cloud (i2v_local/errors.py)."""

from __future__ import annotations

import pytest
from botocore import exceptions as aws

from i2v_local.errors import explain

LOCAL = "http://127.0.0.1:4566"


def client_error(code: str, message: str = "something", operation: str = "Scan") -> aws.ClientError:
    return aws.ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize("exc, endpoint, expected", [
    (aws.NoCredentialsError(), None, "run `aws configure`"),
    (aws.NoRegionError(), None, "pass --region"),
    (aws.ProfileNotFound(profile="nope"), None, "the AWS profile 'nope' does not exist"),
    (aws.EndpointConnectionError(endpoint_url=LOCAL + "/"), LOCAL, "start one with `i2v up`"),
    (aws.EndpointConnectionError(endpoint_url="https://sqs.eu-west-1.amazonaws.com/"), None,
     "check your network"),
    (ConnectionRefusedError(111, "Connection refused"), LOCAL, "no local cloud is running there"),
    (client_error("ExpiredTokenException"), None, "have expired"),
    (client_error("UnrecognizedClientException"), None, "does not accept these credentials"),
    (client_error("AccessDeniedException"), None, "may not do this"),
    (client_error("ResourceNotFoundException"), LOCAL, "is it one `i2v up` started?"),
    (client_error("ResourceNotFoundException"), None, "check --stack and --region"),
    (client_error("ThrottlingException", "slow down"), None, "Scan answered ThrottlingException (slow down)"),
    (ValueError("odd"), None, "unexpected ValueError: odd"),
])
def test_each_error_becomes_one_line_saying_what_to_do(exc, endpoint, expected):
    line = explain(exc, endpoint)
    assert expected in line
    assert "\n" not in line and "Traceback" not in line
