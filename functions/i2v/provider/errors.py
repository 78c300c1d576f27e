"""The provider's error table (docs/provider.md) as named exceptions that say whether a retry helps.

Messages carry the provider's reason and message, never the request headers or the API key.
"""

from __future__ import annotations

import re


class ProviderError(Exception):
    """Base: ``reason`` is the provider's UPPER_SNAKE reason (or ours for transport failures)."""

    retryable = False
    alert_operators = False

    def __init__(self, reason: str, message: str, http_status: int | None = None) -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message
        self.http_status = http_status


class ProviderRejected(ProviderError):
    """400 on the job itself (bad body, image, prompt): fails the job, not retried."""


class ProviderAccountError(ProviderError):
    """Billing or authentication trouble: fails the job, not retried, operators alerted."""

    alert_operators = True


class ProviderRateLimited(ProviderError):
    """429: try later with backoff; the job stays queued."""

    retryable = True


class ProviderUnavailable(ProviderError):
    """5xx (except TASK_FAILED) or nothing sent (connection refused, connect timeout): retry, bounded."""

    retryable = True


class TaskNotFound(ProviderError):
    """404 on get-result: retried a few times, then the job fails."""

    retryable = True


class TaskFailed(ProviderError):
    """500 TASK_FAILED: the task itself failed."""


class SubmitReplyLost(ProviderError):
    """The submit request was sent but the reply was lost: the task may exist and be billed."""


ACCOUNT_REASONS = {"BILLING_BALANCE_NOT_ENOUGH", "MISSING_API_KEY", "INVALID_API_KEY", "API_NOT_ALLOWED",
                   "BILLING_AUTH_FAILED"}


def error_code(reason: str | None, fallback: str) -> str:
    """The provider's reason as an UPPER_SNAKE error code (the notification contract), or the fallback."""
    code = re.sub(r"[^A-Z0-9]+", "_", (reason or "").upper()).strip("_")
    return code if code and code[0].isalpha() else fallback


def classify(http_status: int, reason: str, message: str) -> ProviderError:
    """Map an error reply to the exception the pipeline acts on."""
    reason = error_code(reason, f"HTTP_{http_status}")
    if reason in ACCOUNT_REASONS or http_status in (401, 403):
        return ProviderAccountError(reason, message, http_status)
    if http_status == 429 or reason == "RATE_LIMIT_EXCEEDED":
        return ProviderRateLimited(reason, message, http_status)
    if reason == "TASK_NOT_FOUND" or http_status == 404:
        return TaskNotFound("TASK_NOT_FOUND" if reason.startswith("HTTP_") else reason, message, http_status)
    if reason == "TASK_FAILED":
        return TaskFailed(reason, message, http_status)
    if http_status >= 500:
        return ProviderUnavailable(reason, message, http_status)
    return ProviderRejected(reason, message, http_status)
