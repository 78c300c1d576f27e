"""boto3 clients made once per process (Lambda execution environment), lazily.

Timeouts come from the one time budget in ``i2v.constants``: an AWS request never outlives the
function that makes it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from i2v import constants as c

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=c.HTTP_CONNECT_SECONDS,
                 read_timeout=c.AWS_CALL_SECONDS)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def reset() -> None:
    """Forget the clients (the local cloud points them at a new endpoint)."""
    client.cache_clear()
