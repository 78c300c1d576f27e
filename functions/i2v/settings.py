"""Typed settings of each function, read from its environment at first use (not at import).

Each function reads exactly the variables ``constants.FUNCTION_ENV`` gives it (the stack and the
local cloud give it those and no others); asking for another one is a bug that fails at once. A
missing or malformed variable fails with the variable's name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from i2v import constants as c
from i2v.contracts.errors import InvalidParameters
from i2v.contracts.params import stack_defaults
from i2v.contracts.prices import PriceTableError, price_table
from i2v.spend import BUDGET_ACTIONS, WAIT, Budget


class SettingsError(RuntimeError):
    pass


class Env:
    """The environment as one function may read it: its own variables plus the local-only ones."""

    def __init__(self, function: str, environ: Mapping[str, str] | None = None) -> None:
        self.function = function
        self.allowed = frozenset(c.FUNCTION_ENV[function]) | frozenset(c.LOCAL_ONLY_ENV)
        self.environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        if name not in self.allowed:
            raise SettingsError(f"the {self.function} function reads {name}, which constants.FUNCTION_ENV does "
                                "not give it; add it there so the stack and the local cloud set it")
        value = self.environ.get(name)
        return value if value not in (None, "") else None

    def text(self, name: str, default: str | None = None) -> str:
        value = self.raw(name)
        if value is not None:
            return value
        if default is not None:
            return default
        raise SettingsError(f"environment variable {name} is required but not set")

    def integer(self, name: str, default: int, minimum: int = 1) -> int:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"environment variable {name} must be an integer, got {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"environment variable {name} must be at least {minimum}, got {raw!r}")
        return value

    def number(self, name: str, default: float) -> float:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"environment variable {name} must be a number, got {raw!r}") from None
        if not value > 0:
            raise SettingsError(f"environment variable {name} must be > 0, got {raw!r}")
        return value

    def prefix(self, name: str, default: str) -> str:
        value = self.text(name, default)
        return value if value.endswith("/") else value + "/"

    def defaults(self) -> dict[str, Any]:
        raw = self.raw(c.ENV_DEFAULTS) or "{}"
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"environment variable {c.ENV_DEFAULTS} must be a JSON object: {exc}") from None
        if not isinstance(value, dict):
            raise SettingsError(f"environment variable {c.ENV_DEFAULTS} must be a JSON object")
        try:
            return stack_defaults(value)
        except InvalidParameters as exc:
            raise SettingsError(f"environment variable {c.ENV_DEFAULTS}: {exc.message}") from None

    def url_policy(self) -> str:
        policy = self.text(c.ENV_URL_POLICY, c.URL_POLICY_PUBLIC_HTTPS)
        if policy not in (c.URL_POLICY_PUBLIC_HTTPS, c.URL_POLICY_LOOPBACK_HTTP):
            raise SettingsError(f"environment variable {c.ENV_URL_POLICY} must be {c.URL_POLICY_PUBLIC_HTTPS!r} "
                                f"or {c.URL_POLICY_LOOPBACK_HTTP!r}, got {policy!r}")
        return policy

    def time_scale(self) -> float:
        return self.number(c.ENV_TIME_SCALE, 1.0)

    def trigger(self) -> str:
        value = self.text(c.ENV_TRIGGER, c.DEFAULT_TRIGGER)
        if value not in c.TRIGGERS:
            raise SettingsError(f"environment variable {c.ENV_TRIGGER} must be one of {', '.join(c.TRIGGERS)}, "
                                f"got {value!r}")
        return value


@dataclass(frozen=True)
class Capacity:
    max_in_flight: int = c.DEFAULT_MAX_IN_FLIGHT
    submits_per_minute: int = c.DEFAULT_SUBMITS_PER_MINUTE
    time_scale: float = 1.0

    @property
    def rate_window_seconds(self) -> float:
        return 60.0 / self.time_scale

    @classmethod
    def read(cls, env: Env) -> Capacity:
        return cls(max_in_flight=env.integer(c.ENV_MAX_IN_FLIGHT, c.DEFAULT_MAX_IN_FLIGHT),
                   submits_per_minute=env.integer(c.ENV_SUBMITS_PER_MINUTE, c.DEFAULT_SUBMITS_PER_MINUTE),
                   time_scale=env.time_scale())


@dataclass(frozen=True)
class IntakeSettings:
    bucket: str
    jobs_table: str
    control_table: str
    state_machine_arn: str
    wake_queue_url: str
    uploads_queue_url: str = ""
    uploads_prefix: str = c.DEFAULT_UPLOADS_PREFIX
    outputs_prefix: str = c.DEFAULT_OUTPUTS_PREFIX
    defaults: dict[str, Any] = field(default_factory=lambda: stack_defaults({}))
    time_scale: float = 1.0
    trigger: str = c.DEFAULT_TRIGGER
    image_grace_seconds: float = c.DEFAULT_IMAGE_GRACE_SECONDS  # already time-scaled

    @property
    def images_are_jobs(self) -> bool:
        return self.trigger == c.TRIGGER_IMAGES


def _prices(env: Env) -> dict[str, dict[int, float]]:
    raw = env.raw(c.ENV_PRICES) or "{}"
    try:
        return price_table(json.loads(raw))
    except (ValueError, PriceTableError) as exc:
        raise SettingsError(f"environment variable {c.ENV_PRICES}: {exc}") from None


def _budget(env: Env) -> Budget:
    def dollars(name: str) -> float | None:
        raw = env.raw(name)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"environment variable {name} must be a number of dollars, got {raw!r}") from None
        if not value >= 0:
            raise SettingsError(f"environment variable {name} must be at least 0, got {raw!r}")
        return value

    action = env.text(c.ENV_BUDGET_ACTION, WAIT)
    if action not in BUDGET_ACTIONS:
        raise SettingsError(f"environment variable {c.ENV_BUDGET_ACTION} must be one of {', '.join(BUDGET_ACTIONS)}, "
                            f"got {action!r}")
    return Budget(daily_usd=dollars(c.ENV_BUDGET_DAILY), monthly_usd=dollars(c.ENV_BUDGET_MONTHLY), action=action)


@dataclass(frozen=True)
class DispatchSettings:
    bucket: str
    jobs_table: str
    control_table: str
    idempotency_table: str
    state_machine_arn: str
    wake_queue_url: str
    provider_url: str = c.DEFAULT_PROVIDER_URL
    api_key_secret: str | None = None
    capacity: Capacity = field(default_factory=Capacity)
    deadline_standard: int = c.DEFAULT_DEADLINE_STANDARD
    deadline_professional: int = c.DEFAULT_DEADLINE_PROFESSIONAL
    submit_max_attempts: int = c.DEFAULT_SUBMIT_MAX_ATTEMPTS
    image_url_ttl: int = c.DEFAULT_IMAGE_URL_TTL
    prices: dict[str, dict[int, float]] = field(default_factory=lambda: price_table({}))
    budget: Budget = field(default_factory=Budget)

    @property
    def time_scale(self) -> float:
        return self.capacity.time_scale

    def deadline_for(self, mode: str) -> int:
        """Seconds from submission until the job fails with TIMED_OUT (already time-scaled)."""
        seconds = self.deadline_professional if mode == "Professional" else self.deadline_standard
        return max(1, int(seconds / self.time_scale))


@dataclass(frozen=True)
class StatusSettings:
    jobs_table: str
    provider_url: str = c.DEFAULT_PROVIDER_URL
    api_key_secret: str | None = None
    time_scale: float = 1.0


@dataclass(frozen=True)
class StoreSettings:
    bucket: str
    topic_arn: str
    jobs_table: str
    control_table: str
    wake_queue_url: str
    provider_url: str = c.DEFAULT_PROVIDER_URL
    url_policy: str = c.URL_POLICY_PUBLIC_HTTPS
    max_video_bytes: int = c.DEFAULT_MAX_VIDEO_BYTES
    download_url_ttl: int = c.DEFAULT_DOWNLOAD_URL_TTL
    capacity: Capacity = field(default_factory=Capacity)
    job_retention_days: int = c.DEFAULT_JOB_RETENTION_DAYS
    event_bus: str = c.DEFAULT_EVENT_BUS  # the EventBridge bus the notifications also go to


def _provider_url(env: Env) -> str:
    return env.text(c.ENV_PROVIDER_URL, c.DEFAULT_PROVIDER_URL).rstrip("/")


def intake_settings(environ: Mapping[str, str] | None = None) -> IntakeSettings:
    env = Env(c.FN_INTAKE, environ)
    return IntakeSettings(
        bucket=env.text(c.ENV_BUCKET), jobs_table=env.text(c.ENV_JOBS_TABLE),
        control_table=env.text(c.ENV_CONTROL_TABLE), state_machine_arn=env.text(c.ENV_STATE_MACHINE_ARN),
        wake_queue_url=env.text(c.ENV_WAKE_QUEUE_URL), uploads_queue_url=env.text(c.ENV_UPLOADS_QUEUE_URL),
        uploads_prefix=env.prefix(c.ENV_UPLOADS_PREFIX, c.DEFAULT_UPLOADS_PREFIX),
        outputs_prefix=env.prefix(c.ENV_OUTPUTS_PREFIX, c.DEFAULT_OUTPUTS_PREFIX),
        defaults=env.defaults(), time_scale=env.time_scale(), trigger=env.trigger(),
        image_grace_seconds=env.integer(c.ENV_IMAGE_GRACE, c.DEFAULT_IMAGE_GRACE_SECONDS, minimum=0) / env.time_scale())


def dispatch_settings(environ: Mapping[str, str] | None = None) -> DispatchSettings:
    env = Env(c.FN_DISPATCH, environ)
    return DispatchSettings(
        bucket=env.text(c.ENV_BUCKET), jobs_table=env.text(c.ENV_JOBS_TABLE),
        control_table=env.text(c.ENV_CONTROL_TABLE), idempotency_table=env.text(c.ENV_IDEMPOTENCY_TABLE),
        state_machine_arn=env.text(c.ENV_STATE_MACHINE_ARN), wake_queue_url=env.text(c.ENV_WAKE_QUEUE_URL),
        provider_url=_provider_url(env), api_key_secret=env.raw(c.ENV_API_KEY_SECRET),
        capacity=Capacity.read(env),
        deadline_standard=env.integer(c.ENV_DEADLINE_STANDARD, c.DEFAULT_DEADLINE_STANDARD),
        deadline_professional=env.integer(c.ENV_DEADLINE_PROFESSIONAL, c.DEFAULT_DEADLINE_PROFESSIONAL),
        submit_max_attempts=env.integer(c.ENV_SUBMIT_MAX_ATTEMPTS, c.DEFAULT_SUBMIT_MAX_ATTEMPTS),
        image_url_ttl=env.integer(c.ENV_IMAGE_URL_TTL, c.DEFAULT_IMAGE_URL_TTL),
        prices=_prices(env), budget=_budget(env))


def status_settings(environ: Mapping[str, str] | None = None) -> StatusSettings:
    env = Env(c.FN_STATUS, environ)
    return StatusSettings(jobs_table=env.text(c.ENV_JOBS_TABLE), provider_url=_provider_url(env),
                          api_key_secret=env.raw(c.ENV_API_KEY_SECRET), time_scale=env.time_scale())


def store_settings(environ: Mapping[str, str] | None = None) -> StoreSettings:
    env = Env(c.FN_STORE, environ)
    return StoreSettings(
        bucket=env.text(c.ENV_BUCKET), topic_arn=env.text(c.ENV_TOPIC_ARN), jobs_table=env.text(c.ENV_JOBS_TABLE),
        control_table=env.text(c.ENV_CONTROL_TABLE), wake_queue_url=env.text(c.ENV_WAKE_QUEUE_URL),
        provider_url=_provider_url(env), url_policy=env.url_policy(),
        max_video_bytes=env.integer(c.ENV_MAX_VIDEO_BYTES, c.DEFAULT_MAX_VIDEO_BYTES),
        download_url_ttl=env.integer(c.ENV_DOWNLOAD_URL_TTL, c.DEFAULT_DOWNLOAD_URL_TTL),
        capacity=Capacity.read(env),
        job_retention_days=env.integer(c.ENV_JOB_RETENTION_DAYS, c.DEFAULT_JOB_RETENTION_DAYS),
        event_bus=env.text(c.ENV_EVENT_BUS, c.DEFAULT_EVENT_BUS))
