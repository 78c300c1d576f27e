"""HTTP client of the HighwayAPI v3 async API for KLING V1.6 image-to-video.

One attempt per call: retry policy belongs to the callers (the queue for submits, the workflow
for polls), which know what a retry costs. Every call has a timeout. The API key is only ever
put in the Authorization header; it never appears in logs, exception messages or the repr.

The key is read on each call (through the secret's cache, so a rotated key is picked up within
the cache's lifetime), and when the provider refuses it the key is re-read once past the cache:
if it changed, the call is sent again once with the new key. A refused key means the provider
created nothing, so sending again cannot bill twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from i2v import constants as c
from i2v.connection import nothing_sent
from i2v.provider.errors import (
    ProviderAccountError,
    ProviderError,
    ProviderUnavailable,
    SubmitReplyLost,
    classify,
)
from i2v.provider.models import SubmitRequest, TaskResult, parse_task_result
from i2v.settings import SettingsError

SUBMIT_PATH = "/v3/async/kling-v1.6-i2v"
RESULT_PATH = "/v3/async/task-result"

KeyGetter = Callable[[], str]
"""Returns the current API key; called before every request (cheap: it reads through a cache)."""

KEY_REFUSED_REASONS = frozenset({"INVALID_API_KEY", "MISSING_API_KEY"})


def _key_refused(exc: ProviderAccountError) -> bool:
    """The provider refused the key (INVALID_API_KEY, or any 401/403): worth reading the key again."""
    return exc.reason in KEY_REFUSED_REASONS or exc.http_status in (401, 403)


class HighwayClient:
    """``api_key`` is the key, or a getter called before each request (through the secret's cache);
    ``reread_key`` reads it past any cache (Secrets Manager ``force_fetch``) and is called at most
    once per call, when the provider refuses the key."""

    def __init__(self, base_url: str, api_key: str | KeyGetter, *, reread_key: KeyGetter | None = None,
                 connect_timeout: float = c.HTTP_CONNECT_SECONDS, read_timeout: float = c.PROVIDER_READ_SECONDS,
                 session: requests.Session | None = None) -> None:
        if isinstance(api_key, str):
            if not api_key:
                raise ValueError("the provider API key is empty; set HIGHWAY_API_KEY or the Secrets Manager secret")
            fixed = api_key
            self._read_key: KeyGetter = lambda: fixed
            self._reread_key: KeyGetter | None = reread_key
        else:
            self._read_key = api_key
            self._reread_key = reread_key
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.session = session or requests.Session()
        self.session.mount("http://", HTTPAdapter(max_retries=0, pool_maxsize=16))
        self.session.mount("https://", HTTPAdapter(max_retries=0, pool_maxsize=16))

    def __repr__(self) -> str:  # never show the key
        return f"HighwayClient(base_url={self.base_url!r})"

    @staticmethod
    def _key(getter: KeyGetter) -> str:
        """The key from ``getter``. Failing to read it raises a ProviderError before anything is
        sent, so the callers' handling applies (a submit is known not to have reached the provider)."""
        try:
            key = getter()
        except SettingsError as exc:  # our own message: what to configure, never the key
            raise ProviderAccountError("MISSING_API_KEY", str(exc)) from None
        except Exception as exc:  # Secrets Manager unreachable or throttled ...
            raise ProviderUnavailable("API_KEY_UNAVAILABLE",
                                      f"could not read the provider API key ({type(exc).__name__})") from None
        if not isinstance(key, str) or not key.strip():
            raise ProviderAccountError("MISSING_API_KEY", "the provider API key is empty; put it in the "
                                       "Secrets Manager secret (or HIGHWAY_API_KEY in local runs)")
        return key.strip()

    @staticmethod
    def _headers(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                "Accept": "application/json"}

    @staticmethod
    def _raise_for_reply(response: requests.Response, *keys: str) -> None:
        """Raise the error a reply means; ``keys`` (every key the call used) are redacted from it."""
        if response.status_code < 400:
            return
        try:
            body: Any = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        reason = str(body.get("reason") or "")
        message = str(body.get("message") or response.reason or "")
        for key in keys:
            message = message.replace(key, "[redacted]")
        raise classify(response.status_code, reason, message[:500])  # cut after redacting: no key prefix left

    def _call(self, send: Callable[[dict[str, str]], requests.Response]) -> requests.Response:
        """Send with the current key. When the provider refuses it, read the key once more past the
        cache and, only if it changed (rotated, or put after this environment first read it), send
        once more with the new key."""
        key = self._key(self._read_key)
        response = send(self._headers(key))
        try:
            self._raise_for_reply(response, key)
            return response
        except ProviderAccountError as exc:
            if self._reread_key is None or not _key_refused(exc):
                raise
            refused = exc
        try:
            fresh = self._key(self._reread_key)
        except ProviderError:
            raise refused from None  # the provider's answer says more than the failed re-read
        if fresh == key:
            raise refused
        response.close()
        response = send(self._headers(fresh))
        self._raise_for_reply(response, fresh, key)
        return response

    def submit(self, request: SubmitRequest) -> str:
        """Create a task; returns its task_id. Raises a ProviderError subclass."""
        def send(headers: dict[str, str]) -> requests.Response:
            return self.session.post(self.base_url + SUBMIT_PATH, json=request.body(), headers=headers,
                                     timeout=self.timeout)

        try:
            response = self._call(send)
        except requests.RequestException as exc:
            kind = type(exc).__name__
            if nothing_sent(exc):
                raise ProviderUnavailable("CONNECT_FAILED", f"could not connect to the provider ({kind})") from None
            raise SubmitReplyLost("SUBMIT_OUTCOME_UNKNOWN",
                                  f"the submit request was sent but no reply arrived ({kind}); "
                                  "the task may exist and be billed") from None
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
        def send(headers: dict[str, str]) -> requests.Response:
            return self.session.get(self.base_url + RESULT_PATH, params={"task_id": task_id}, headers=headers,
                                    timeout=self.timeout)

        try:
            response = self._call(send)
        except requests.RequestException as exc:
            raise ProviderUnavailable("RESULT_UNREACHABLE",
                                      f"no reply from the provider's result API ({type(exc).__name__})") from None
        try:
            doc = response.json()
        except ValueError:
            raise ProviderUnavailable("GET_RESULT_FAILED", "the result reply is not JSON") from None
        if not isinstance(doc, dict):
            raise ProviderUnavailable("GET_RESULT_FAILED", "the result reply is not a JSON object")
        return parse_task_result(doc, task_id)


__all__ = ["HighwayClient", "ProviderError"]
