"""Whether an HTTP request ever reached the server: the line between "nothing was sent" (safe to try
again) and "sent, but the reply was lost" (the provider may have created a paid task)."""

from __future__ import annotations

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError


def nothing_sent(exc: BaseException) -> bool:
    """True when no connection was made (refused, unreachable, DNS, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    stack: list[object] = [exc]
    seen: set[int] = set()
    while stack:
        cause = stack.pop()
        if not isinstance(cause, BaseException) or id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, (NewConnectionError, ConnectTimeoutError)):
            return True
        stack.extend([getattr(cause, "reason", None), cause.__cause__, cause.__context__, *cause.args])
    return False
