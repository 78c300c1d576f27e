"""The provider's error replies as one exception, so any layer can stop a request early."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An HTTP error reply: ``{"code": status, "reason": REASON, "message": text}``."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"code": self.status, "reason": self.reason, "message": self.message}


def bad_request(message: str, reason: str = "INVALID_REQUEST_BODY") -> ApiError:
    return ApiError(400, reason, message)
