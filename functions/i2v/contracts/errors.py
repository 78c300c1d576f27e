"""Error codes, the provider's reasons, and the one error document every failure carries.

``ErrorDetail`` is the notification's ``error`` object; ``JobError`` is the exception that carries
one. Everything that ends a job builds its error here, and Step Functions' own ``{Error, Cause}``
documents are turned into the same shape by ``ErrorDetail.from_document``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from i2v.contracts.status import Stage


class ProviderReason(StrEnum):
    """The provider's published error reasons (HighwayAPI v3 async API)."""

    INVALID_REQUEST_BODY = "INVALID_REQUEST_BODY"
    INVALID_IMAGE_FORMAT = "INVALID_IMAGE_FORMAT"
    IMAGE_FILE_EXCEEDS_MAX_SIZE = "IMAGE_FILE_EXCEEDS_MAX_SIZE"
    IMAGE_EXCEEDS_MAX_RESOLUTION = "IMAGE_EXCEEDS_MAX_RESOLUTION"
    INVALID_IMAGE_SIZE = "INVALID_IMAGE_SIZE"
    ILLEGAL_PROMPT = "ILLEGAL_PROMPT"
    ILLEGAL_IMAGE_CONTENT = "ILLEGAL_IMAGE_CONTENT"
    BILLING_BALANCE_NOT_ENOUGH = "BILLING_BALANCE_NOT_ENOUGH"
    MISSING_API_KEY = "MISSING_API_KEY"
    INVALID_API_KEY = "INVALID_API_KEY"
    API_NOT_ALLOWED = "API_NOT_ALLOWED"
    BILLING_AUTH_FAILED = "BILLING_AUTH_FAILED"
    TASK_NOT_FOUND = "TASK_NOT_FOUND"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    CREATE_TASK_FAILED = "CREATE_TASK_FAILED"
    GET_RESULT_FAILED = "GET_RESULT_FAILED"
    BILLING_FAILED = "BILLING_FAILED"
    TASK_FAILED = "TASK_FAILED"


# Reasons no retry fixes and an operator must act on (the key or the account's billing).
ACCOUNT_REASONS = frozenset({ProviderReason.BILLING_BALANCE_NOT_ENOUGH, ProviderReason.MISSING_API_KEY,
                             ProviderReason.INVALID_API_KEY, ProviderReason.API_NOT_ALLOWED,
                             ProviderReason.BILLING_AUTH_FAILED})


class ErrorCode(StrEnum):
    """The pipeline's own error codes (provider reasons pass through as codes of their own)."""

    # validate: the input breaks a rule; nothing was paid
    IMAGE_FORMAT_UNSUPPORTED = "IMAGE_FORMAT_UNSUPPORTED"
    IMAGE_EMPTY = "IMAGE_EMPTY"
    IMAGE_CORRUPT = "IMAGE_CORRUPT"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    IMAGE_TOO_SMALL = "IMAGE_TOO_SMALL"
    IMAGE_ASPECT_RATIO = "IMAGE_ASPECT_RATIO"
    IMAGE_NOT_FOUND = "IMAGE_NOT_FOUND"
    END_IMAGE_NOT_FOUND = "END_IMAGE_NOT_FOUND"
    END_IMAGE_REQUIRES_PROFESSIONAL = "END_IMAGE_REQUIRES_PROFESSIONAL"
    INVALID_END_IMAGE = "INVALID_END_IMAGE"
    INVALID_MODE = "INVALID_MODE"
    INVALID_PROMPT = "INVALID_PROMPT"
    INVALID_NEGATIVE_PROMPT = "INVALID_NEGATIVE_PROMPT"
    INVALID_DURATION = "INVALID_DURATION"
    INVALID_GUIDANCE_SCALE = "INVALID_GUIDANCE_SCALE"
    INVALID_PRIORITY = "INVALID_PRIORITY"
    INVALID_REUSE = "INVALID_REUSE"
    INVALID_METADATA = "INVALID_METADATA"
    INVALID_JOB_FILE = "INVALID_JOB_FILE"
    INVALID_BATCH_FILE = "INVALID_BATCH_FILE"
    INVALID_BATCH_ROW = "INVALID_BATCH_ROW"
    JOB_FILE_UNKNOWN_KEYS = "JOB_FILE_UNKNOWN_KEYS"
    INVALID_DEFAULTS_FILE = "INVALID_DEFAULTS_FILE"
    INVALID_STACK_DEFAULTS = "INVALID_STACK_DEFAULTS"
    INVALID_KEY = "INVALID_KEY"
    OBJECT_CHANGED = "OBJECT_CHANGED"
    # submit
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
    SUBMIT_OUTCOME_UNKNOWN = "SUBMIT_OUTCOME_UNKNOWN"
    PROVIDER_REJECTED = "PROVIDER_REJECTED"
    PROVIDER_ACCOUNT_ERROR = "PROVIDER_ACCOUNT_ERROR"
    # poll
    TASK_FAILED = "TASK_FAILED"
    TASK_NOT_FOUND = "TASK_NOT_FOUND"
    TIMED_OUT = "TIMED_OUT"
    NO_VIDEO = "NO_VIDEO"
    PROVIDER_ERROR = "PROVIDER_ERROR"
    # store
    VIDEO_NOT_FOUND = "VIDEO_NOT_FOUND"
    VIDEO_URL_EXPIRED = "VIDEO_URL_EXPIRED"
    VIDEO_DOWNLOAD_FAILED = "VIDEO_DOWNLOAD_FAILED"
    VIDEO_INVALID = "VIDEO_INVALID"
    VIDEO_TOO_LARGE = "VIDEO_TOO_LARGE"
    UNSAFE_VIDEO_URL = "UNSAFE_VIDEO_URL"
    # any stage
    INTERNAL_ERROR = "INTERNAL_ERROR"


# Every code a notification may carry: ours and the provider's reasons.
DOCUMENTED_CODES = frozenset(ErrorCode) | frozenset(ProviderReason)


def error_code(reason: str | None, fallback: str) -> str:
    """A provider's reason as an UPPER_SNAKE error code (the notification contract), or the fallback."""
    code = re.sub(r"[^A-Z0-9]+", "_", (reason or "").upper()).strip("_")[:64]
    return code if code and code[0].isalpha() else fallback


@dataclass(frozen=True)
class ErrorDetail:
    """The notification's ``error`` object: what went wrong, where, and whether a retry may help."""

    code: str
    message: str
    stage: Stage
    retryable: bool = False

    MAX_MESSAGE: ClassVar[int] = 1000

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "stage": self.stage.value, "retryable": self.retryable}

    @classmethod
    def from_document(cls, document: Mapping[str, Any], stage_hint: Stage) -> ErrorDetail:
        """Ours (``code``, ``message``, ``stage``, ``retryable``) or Step Functions' ``{Error, Cause}``."""
        if "code" in document:
            stage = document.get("stage")
            return cls(code=error_code(str(document["code"]), ErrorCode.INTERNAL_ERROR),
                       message=str(document.get("message") or document["code"])[:cls.MAX_MESSAGE],
                       stage=Stage(stage) if stage in _STAGES else stage_hint,
                       retryable=bool(document.get("retryable", False)))
        name = str(document.get("Error") or ErrorCode.INTERNAL_ERROR)
        message = str(document.get("Cause") or name)
        try:
            cause = json.loads(message)
        except ValueError:
            cause = None
        if isinstance(cause, dict):
            message = str(cause.get("errorMessage") or message)
            name = str(cause.get("errorType") or name)
        code, stage, retryable = CAUGHT_ERRORS.get(name, (ErrorCode.INTERNAL_ERROR, stage_hint, True))
        return cls(code=code, message=f"{name}: {message}"[:cls.MAX_MESSAGE], stage=stage, retryable=retryable)


_STAGES = frozenset(s.value for s in Stage)

# Errors raised inside the workflow's tasks (caught by the ASL's Catch) -> the notification's error.
CAUGHT_ERRORS: Mapping[str, tuple[ErrorCode, Stage, bool]] = {
    "VideoTransferError": (ErrorCode.VIDEO_DOWNLOAD_FAILED, Stage.STORE, True),
    "States.Timeout": (ErrorCode.TIMED_OUT, Stage.POLL, True),
    "States.TaskFailed": (ErrorCode.INTERNAL_ERROR, Stage.POLL, True),
    "ProviderUnavailable": (ErrorCode.PROVIDER_UNAVAILABLE, Stage.POLL, True),
}


class JobError(Exception):
    """A job cannot go on. Subclasses fix the code and stage; the message says what and what was expected."""

    code: str = ErrorCode.INTERNAL_ERROR
    stage: Stage = Stage.VALIDATE
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, stage: Stage | str | None = None,
                 retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if stage is not None:
            self.stage = Stage(stage)
        if retryable is not None:
            self.retryable = retryable

    @property
    def detail(self) -> ErrorDetail:
        return ErrorDetail(code=str(self.code), message=self.message[:ErrorDetail.MAX_MESSAGE], stage=Stage(self.stage),
                           retryable=self.retryable)

    def to_dict(self) -> dict[str, Any]:
        return self.detail.to_dict()


class InvalidImage(JobError):
    code = ErrorCode.IMAGE_CORRUPT


class InvalidParameters(JobError):
    code = ErrorCode.INVALID_JOB_FILE


class InvalidJobFile(JobError):
    code = ErrorCode.INVALID_JOB_FILE


class DefaultsFileError(InvalidJobFile):
    code = ErrorCode.INVALID_DEFAULTS_FILE


class MissingImage(JobError):
    code = ErrorCode.IMAGE_NOT_FOUND


class EndImageMissing(MissingImage):
    code = ErrorCode.END_IMAGE_NOT_FOUND


class InvalidKey(JobError):
    code = ErrorCode.INVALID_KEY


class ObjectChanged(JobError):
    """The object was overwritten after its event: this job's bytes are gone (the newer upload has its own job)."""

    code = ErrorCode.OBJECT_CHANGED


class SubmitOutcomeUnknown(JobError):
    """The submit request was sent but its reply was lost: the task may exist and be billed."""

    code = ErrorCode.SUBMIT_OUTCOME_UNKNOWN
    stage = Stage.SUBMIT
