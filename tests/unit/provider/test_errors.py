"""The provider's error table as exceptions that say whether a retry helps (i2v.provider.errors)."""

from __future__ import annotations

import re

import pytest

from i2v.provider.errors import (
    ProviderAccountError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    TaskFailed,
    TaskNotFound,
    classify,
)

# Every row of the error table in docs/provider.md: (HTTP, reason, class, retryable, operators alerted)
TABLE = [
    (400, "INVALID_REQUEST_BODY", ProviderRejected, False, False),
    (400, "INVALID_IMAGE_FORMAT", ProviderRejected, False, False),
    (400, "IMAGE_FILE_EXCEEDS_MAX_SIZE", ProviderRejected, False, False),
    (400, "IMAGE_EXCEEDS_MAX_RESOLUTION", ProviderRejected, False, False),
    (400, "INVALID_IMAGE_SIZE", ProviderRejected, False, False),
    (400, "ILLEGAL_PROMPT", ProviderRejected, False, False),
    (400, "ILLEGAL_IMAGE_CONTENT", ProviderRejected, False, False),
    (400, "BILLING_BALANCE_NOT_ENOUGH", ProviderAccountError, False, True),
    (400, "MISSING_API_KEY", ProviderAccountError, False, True),
    (403, "INVALID_API_KEY", ProviderAccountError, False, True),
    (403, "API_NOT_ALLOWED", ProviderAccountError, False, True),
    (403, "BILLING_AUTH_FAILED", ProviderAccountError, False, True),
    (404, "TASK_NOT_FOUND", TaskNotFound, True, False),
    (429, "RATE_LIMIT_EXCEEDED", ProviderRateLimited, True, False),
    (500, "CREATE_TASK_FAILED", ProviderUnavailable, True, False),
    (500, "GET_RESULT_FAILED", ProviderUnavailable, True, False),
    (500, "BILLING_FAILED", ProviderUnavailable, True, False),
    (500, "TASK_FAILED", TaskFailed, False, False),
]


@pytest.mark.parametrize("status, reason, cls, retryable, alert", TABLE)
def test_every_row_of_the_error_table(status, reason, cls, retryable, alert):
    exc = classify(status, reason, "provider says no")
    assert type(exc) is cls
    assert exc.retryable is retryable
    assert exc.alert_operators is alert
    assert exc.reason == reason
    assert exc.http_status == status
    assert reason in str(exc) and "provider says no" in str(exc)


@pytest.mark.parametrize(
    "status, cls",
    [
        (502, ProviderUnavailable),
        (503, ProviderUnavailable),
        (404, TaskNotFound),
        (400, ProviderRejected),
        (422, ProviderRejected),
    ],
)
def test_replies_without_a_reason_are_classified_by_status_and_named_after_it(status, cls):
    exc = classify(status, "", "")
    assert type(exc) is cls
    assert exc.reason in (f"HTTP_{status}", "TASK_NOT_FOUND")


def test_a_429_without_a_reason_is_still_a_rate_limit():
    exc = classify(429, "", "")
    assert type(exc) is ProviderRateLimited and exc.retryable


def test_unknown_reasons_on_5xx_are_retried():
    exc = classify(500, "SOMETHING_NEW", "")
    assert isinstance(exc, ProviderUnavailable) and exc.retryable


@pytest.mark.parametrize("status", [401, 403])
def test_account_errors_without_a_reason_still_get_an_error_code(status):
    exc = classify(status, "", "Forbidden")
    assert isinstance(exc, ProviderAccountError)
    assert re.fullmatch(r"[A-Z][A-Z0-9_]*", exc.reason)
