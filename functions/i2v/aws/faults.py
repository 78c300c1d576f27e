"""Which exceptions are infrastructure faults worth another delivery, as opposed to a job's failure.

Throttling, timeouts and AWS's own 5xx go back to the queue (the message is tried again); anything
else while building a job ends that job with a failure notification instead of a crash loop.
"""

from __future__ import annotations

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "ProvisionedThroughputExceededException", "RequestLimitExceeded", "TooManyRequestsException",
    "SlowDown", "ServiceUnavailable", "InternalError", "InternalServerError", "InternalFailure",
    "TransactionConflictException", "RequestTimeout", "RequestTimeoutException", "LimitExceededException",
})


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, HTTPClientError)):  # connect/read timeouts, resets, DNS
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return error.get("Code") in TRANSIENT_CODES or status >= 500
    return False
