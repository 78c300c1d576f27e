"""HTTP client of the HighwayAPI v3 async API for KLING V1.6 image-to-video.

One attempt per call: retry policy belongs to the callers (the queue for submits, the workflow
for polls), which know what a retry costs. Every call has a timeout. The API key is only ever
put in the Authorization header; it never appears in logs or exception messages.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from i2v.provider.errors import (
    ProviderError,
    ProviderUnavailable,
    SubmitReplyLost,
    classify,
)
from i2v.provider.models import SubmitRequest, TaskResult, parse_task_result

SUBMIT_PATH = "/v3/async/kling-v1.6-i2v"
RESULT_PATH = "/v3/async/task-result"


def _nothing_sent(exc: BaseException) -> bool:
    """True when the request never reached the server (refused, DNS, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    stack, seen = [exc], set()
    while stack:
        cause = stack.pop()
        if cause is None or id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, (NewConnectionError, ConnectTimeoutError)):
            return True
        stack.extend([getattr(cause, "reason", None), cause.__cause__, cause.__context__])
        stack.extend(arg for arg in getattr(cause, "args", ()) if isinstance(arg, BaseException))
    return False


class HighwayClient:
    def __init__(self, base_url: str, api_key: str, *, connect_timeout: float = 5.0,
                 read_timeout: float = 30.0, session: requests.Session | None = None) -> None:
        if not api_key:
            raise ValueError("the provider API key is empty; set HIGHWAY_API_KEY or the Secrets Manager secret")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = (connect_timeout, read_timeout)
        self.session = session or requests.Session()
        self.session.mount("http://", HTTPAdapter(max_retries=0, pool_maxsize=16))
        self.session.mount("https://", HTTPAdapter(max_retries=0, pool_maxsize=16))

    def __repr__(self) -> str:  # never show the key
        return f"HighwayClient(base_url={self.base_url!r})"

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json",
                "Accept": "application/json"}

    def _raise_for_reply(self, response: requests.Response) -> None:
        if response.status_code < 400:
            return
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        reason = str(body.get("reason") or "")
        message = str(body.get("message") or response.reason or "")[:500].replace(self._api_key, "[redacted]")
        raise classify(response.status_code, reason, message)

    def submit(self, request: SubmitRequest) -> str:
        """Create a task; returns its task_id. Raises a ProviderError subclass."""
        try:
            response = self.session.post(self.base_url + SUBMIT_PATH, json=request.body(),
                                         headers=self._headers(), timeout=self.timeout)
        except requests.RequestException as exc:
            kind = type(exc).__name__
            if _nothing_sent(exc):
                raise ProviderUnavailable("CONNECT_FAILED", f"could not connect to the provider ({kind})") from None
            raise SubmitReplyLost("SUBMIT_OUTCOME_UNKNOWN",
                                  f"the submit request was sent but no reply arrived ({kind}); "
                                  "the task may exist and be billed") from None
        self._raise_for_reply(response)
        try:
            task_id = response.json()["task_id"]
        except (ValueError, KeyError, TypeError):
            raise SubmitReplyLost("SUBMIT_OUTCOME_UNKNOWN",
                                  f"the provider replied {response.status_code} without a task_id") from None
        if not task_id:
            raise SubmitReplyLost("SUBMIT_OUTCOME_UNKNOWN", "the provider replied with an empty task_id")
        return str(task_id)

    def get_result(self, task_id: str) -> TaskResult:
        """Current state of a task. Raises a ProviderError subclass."""
        try:
            response = self.session.get(self.base_url + RESULT_PATH, params={"task_id": task_id},
                                        headers=self._headers(), timeout=self.timeout)
        except requests.RequestException as exc:
            raise ProviderUnavailable("RESULT_UNREACHABLE",
                                      f"no reply from the provider's result API ({type(exc).__name__})") from None
        self._raise_for_reply(response)
        try:
            doc = response.json()
        except ValueError:
            raise ProviderUnavailable("GET_RESULT_FAILED", "the result reply is not JSON") from None
        if not isinstance(doc, dict):
            raise ProviderUnavailable("GET_RESULT_FAILED", "the result reply is not a JSON object")
        return parse_task_result(doc, task_id)


__all__ = ["HighwayClient", "ProviderError"]
