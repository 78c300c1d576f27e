"""The provider API key: Secrets Manager through Powertools parameters (cached), or the
HIGHWAY_API_KEY variable in local runs. The value is never logged."""

from __future__ import annotations

import json
import os

from i2v import constants as c
from i2v.settings import SettingsError

CACHE_SECONDS = 300


def api_key(secret_name: str | None) -> str:
    if secret_name:
        from aws_lambda_powertools.utilities import parameters

        value = parameters.get_secret(secret_name, max_age=CACHE_SECONDS)
        if isinstance(value, bytes):
            value = value.decode()
        value = value.strip()
        if value.startswith("{"):  # a JSON secret: {"api_key": "..."}
            try:
                value = json.loads(value).get("api_key", "")
            except ValueError:
                pass
        if not value:
            raise SettingsError(f"the secret named in {c.ENV_API_KEY_SECRET} is empty; put the provider API key in it")
        return value
    value = os.environ.get(c.ENV_API_KEY, "").strip()
    if not value:
        raise SettingsError(f"no provider API key: set {c.ENV_API_KEY} (local) or {c.ENV_API_KEY_SECRET} (AWS)")
    return value
