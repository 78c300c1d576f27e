"""boto3 clients made once per process (Lambda execution environment), lazily."""

from __future__ import annotations

from functools import cache

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)


@cache
def client(service: str):
    return boto3.client(service, config=_CONFIG)


@cache
def resource(service: str):
    return boto3.resource(service, config=_CONFIG)
