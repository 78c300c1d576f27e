"""The provider API key: Secrets Manager through Powertools parameters (cached), or the
HIGHWAY_API_KEY variable in local runs. The value is never logged.

Read the key on each use, not once per execution environment: the cache then holds it for at
most CACHE_SECONDS, so a key put or rotated after the environment started is picked up. When
the provider refuses the key, ``api_key(name, force_fetch=True)`` reads it past the cache (and
refreshes the cache with what it read).
"""

from __future__ import annotations

import json
import os

from i2v import constants as c
from i2v.settings import SettingsError

CACHE_SECONDS = 300


def _from_secret(raw: str | bytes) -> str:
    """The key in a secret's value: the whole value, or its "api_key" field when it is JSON."""
    value = (raw.decode() if isinstance(raw, bytes) else raw).strip()
    if value.startswith("{"):  # a JSON secret: {"api_key": "..."}
        try:
            document = json.loads(value)
        except ValueError:
            document = None
        if isinstance(document, dict):
            inner = document.get("api_key", "")
            value = inner.strip() if isinstance(inner, str) else ""
    return value


def api_key(secret_name: str | None, *, force_fetch: bool = False) -> str:
    """The provider API key, through the cache; ``force_fetch`` reads Secrets Manager now."""
    if secret_name:
        from aws_lambda_powertools.utilities import parameters

        value = _from_secret(parameters.get_secret(secret_name, max_age=CACHE_SECONDS, force_fetch=force_fetch))
        if not value:
            raise SettingsError(f"the secret named in {c.ENV_API_KEY_SECRET} is empty; put the provider API key in it")
        return value
    value = os.environ.get(c.ENV_API_KEY, "").strip()
    if not value:
        raise SettingsError(f"no provider API key: set {c.ENV_API_KEY} (local) or {c.ENV_API_KEY_SECRET} (AWS)")
    return value
