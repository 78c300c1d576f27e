"""Typed settings read from the environment at first use (not at import).

A missing or malformed variable fails with the variable's name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache

from i2v import constants as c


class SettingsError(RuntimeError):
    pass


def _get(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        if default is not None:
            return default
        raise SettingsError(f"environment variable {name} is required but not set")
    return value


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"environment variable {name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"environment variable {name} must be at least {minimum}, got {raw!r}")
    return value


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"environment variable {name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"environment variable {name} must be > 0, got {raw!r}")
    return value


def _prefix(name: str, default: str) -> str:
    value = _get(name, default)
    return value if value.endswith("/") else value + "/"


@dataclass(frozen=True)
class Settings:
    bucket: str
    uploads_prefix: str
    outputs_prefix: str
    topic_arn: str
    state_machine_arn: str
    queue_url: str
    jobs_table: str
    idempotency_table: str
    control_table: str
    provider_url: str
    api_key_secret: str | None
    defaults: dict = field(default_factory=dict)
    max_in_flight: int = c.DEFAULT_MAX_IN_FLIGHT
    submits_per_minute: int = c.DEFAULT_SUBMITS_PER_MINUTE
    deadline_standard: int = c.DEFAULT_DEADLINE_STANDARD
    deadline_professional: int = c.DEFAULT_DEADLINE_PROFESSIONAL
    time_scale: float = 1.0
    url_policy: str = c.URL_POLICY_PUBLIC_HTTPS
    max_video_bytes: int = c.DEFAULT_MAX_VIDEO_BYTES
    download_url_ttl: int = c.DEFAULT_DOWNLOAD_URL_TTL
    image_url_ttl: int = c.DEFAULT_IMAGE_URL_TTL
    submit_max_attempts: int = c.DEFAULT_SUBMIT_MAX_ATTEMPTS

    def deadline_for(self, mode: str) -> int:
        """Seconds from submission until the job fails with TIMED_OUT (already time-scaled)."""
        seconds = self.deadline_professional if mode == "Professional" else self.deadline_standard
        return max(1, int(seconds / self.time_scale))

    @property
    def rate_window_seconds(self) -> float:
        return 60.0 / self.time_scale


def _defaults() -> dict:
    raw = os.environ.get(c.ENV_DEFAULTS) or "{}"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"environment variable {c.ENV_DEFAULTS} must be a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise SettingsError(f"environment variable {c.ENV_DEFAULTS} must be a JSON object")
    return value


def load_settings() -> Settings:
    policy = _get(c.ENV_URL_POLICY, c.URL_POLICY_PUBLIC_HTTPS)
    if policy not in (c.URL_POLICY_PUBLIC_HTTPS, c.URL_POLICY_LOOPBACK_HTTP):
        raise SettingsError(f"environment variable {c.ENV_URL_POLICY} must be "
                            f"{c.URL_POLICY_PUBLIC_HTTPS!r} or {c.URL_POLICY_LOOPBACK_HTTP!r}, got {policy!r}")
    return Settings(
        bucket=_get(c.ENV_BUCKET),
        uploads_prefix=_prefix(c.ENV_UPLOADS_PREFIX, c.DEFAULT_UPLOADS_PREFIX),
        outputs_prefix=_prefix(c.ENV_OUTPUTS_PREFIX, c.DEFAULT_OUTPUTS_PREFIX),
        topic_arn=_get(c.ENV_TOPIC_ARN),
        state_machine_arn=_get(c.ENV_STATE_MACHINE_ARN),
        queue_url=_get(c.ENV_QUEUE_URL),
        jobs_table=_get(c.ENV_JOBS_TABLE),
        idempotency_table=_get(c.ENV_IDEMPOTENCY_TABLE),
        control_table=_get(c.ENV_CONTROL_TABLE),
        provider_url=_get(c.ENV_PROVIDER_URL, c.DEFAULT_PROVIDER_URL).rstrip("/"),
        api_key_secret=os.environ.get(c.ENV_API_KEY_SECRET) or None,
        defaults=_defaults(),
        max_in_flight=_int(c.ENV_MAX_IN_FLIGHT, c.DEFAULT_MAX_IN_FLIGHT),
        submits_per_minute=_int(c.ENV_SUBMITS_PER_MINUTE, c.DEFAULT_SUBMITS_PER_MINUTE),
        deadline_standard=_int(c.ENV_DEADLINE_STANDARD, c.DEFAULT_DEADLINE_STANDARD),
        deadline_professional=_int(c.ENV_DEADLINE_PROFESSIONAL, c.DEFAULT_DEADLINE_PROFESSIONAL),
        time_scale=_float(c.ENV_TIME_SCALE, 1.0),
        url_policy=policy,
        max_video_bytes=_int(c.ENV_MAX_VIDEO_BYTES, c.DEFAULT_MAX_VIDEO_BYTES),
        download_url_ttl=_int(c.ENV_DOWNLOAD_URL_TTL, c.DEFAULT_DOWNLOAD_URL_TTL),
        image_url_ttl=_int(c.ENV_IMAGE_URL_TTL, c.DEFAULT_IMAGE_URL_TTL),
        submit_max_attempts=_int(c.ENV_SUBMIT_MAX_ATTEMPTS, c.DEFAULT_SUBMIT_MAX_ATTEMPTS),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
